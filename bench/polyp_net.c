/* polyp_net.c - the polyp detector alone: frames per second on one thread
 * of CPU time (input resize + network + score + boxes, as the engine runs
 * it per frame)
 * and the network's arithmetic per frame, from the layer shapes of the
 * weights file. Prints one JSON object.
 * Usage: bench-polyp-net [WEIGHTS] [SECONDS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/polyp.h"
#include "engine/polyp_net.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: on a shared machine, wall time also counts the
 * other jobs' turns. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : CS_DEFAULT_MODEL_DIR "/polyp-unet.bin";
    double secs = argc > 2 ? atof(argv[2]) : 5.0;
    cs_polyp_model *m = NULL;
    cs_polyp_net *net = NULL;
    cs_error err = {0};
    if (cs_polyp_model_load(path, &m, &err) != CS_OK || cs_polyp_net_new(m, &net, &err) != CS_OK) {
        fprintf(stderr, "bench-polyp-net: %s\n", err.msg);
        return 1;
    }
    /* multiply-adds: each layer's output cells x its kernel's inputs */
    double macs = 0;
    int side = CS_POLYP_IN;
    for (int i = 0; i < CS_POLYP_NLAYERS; i++) {
        const cs_polyp_layer *l = &m->layers[i];
        if (l->stride == 2)
            side /= 2;
        if (strncmp(l->name, "dec", 3) == 0 && strstr(l->name, ".dw"))
            side *= 2;
        macs += (double)side * side * l->cout * l->cin_per_group * l->k * l->k;
    }
    /* an 80x80 analysis-size frame with some structure */
    enum { S = 80 };
    uint8_t *rgb = malloc(S * S * 3);
    float *tmp = malloc(sizeof(float) * CS_POLYP_IN * S * 3);
    float *in = malloc(sizeof(float) * CS_POLYP_IN * CS_POLYP_IN * 3);
    float logits[CS_POLYP_OUT * CS_POLYP_OUT];
    cs_box boxes[CS_MAX_BOXES];
    if (!rgb || !tmp || !in)
        return 1;
    for (int i = 0; i < S * S * 3; i++)
        rgb[i] = (uint8_t)((i * 2654435761u) >> 24);
    cs_image img = {S, S, 640, 640, rgb};
    long n = 0;
    double t0 = now(), c0 = cpu_now(), t;
    float sink = 0;
    do {
        cs_polyp_input(&img, tmp, in);
        if (cs_polyp_net_run(net, in, logits, &err) != CS_OK) {
            fprintf(stderr, "bench-polyp-net: %s\n", err.msg);
            return 1;
        }
        sink += cs_polyp_score(logits, CS_POLYP_OUT * CS_POLYP_OUT, m->topk);
        cs_polyp_sigmoid(logits, logits, CS_POLYP_OUT * CS_POLYP_OUT);
        sink += (float)cs_polyp_boxes(logits, boxes);
        n++;
        t = now();
    } while (t - t0 < secs);
    double cpu = cpu_now() - c0;
    double fps = (double)n / cpu;
    printf(
        "{\"frames\": %ld, \"wall_fps\": %.1f, \"fps_one_thread\": %.1f, \"ms_per_frame\": %.3f, "
        "\"mflops_per_frame\": %.2f, \"mmacs_per_frame\": %.2f, "
        "\"live_studies_per_core_at_4fps\": %.0f, \"check\": %.3f}\n",
        n, (double)n / (t - t0), fps, 1000.0 / fps, 2 * macs / 1e6, macs / 1e6, fps / 4.0,
        (double)sink / (double)n);
    cs_polyp_net_free(net);
    cs_polyp_model_free(m);
    free(rgb);
    free(tmp);
    free(in);
    return 0;
}
