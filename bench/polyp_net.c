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
    for (int j = 0; j < cs_polyp_model_networks(m); j++) { /* an ensemble's members */
        const cs_polyp_model *mem = cs_polyp_model_network(m, j);
        int side = mem->in_side;
        for (int i = 0; i < CS_POLYP_NLAYERS; i++) {
            const cs_polyp_layer *l = &mem->layers[i];
            if (l->stride == 2)
                side /= 2;
            if (strncmp(l->name, "dec", 3) == 0 && strstr(l->name, ".dw"))
                side *= 2;
            macs += (double)side * side * l->cout * l->cin_per_group * l->k * l->k;
        }
    }
    /* what the network reads of a 640x640 frame, with some structure: the
     * 80x80 analysis image, or the detail decode a larger input needs
     * (cs_engine_detail_side: short side >= 4/5 of the input) */
    int S = 80, cells = m->out_side * m->out_side;
    if (m->in_side > CS_POLYP_V1_IN) {
        int dh;
        cs_scaled_size(640, 640, m->in_side * CS_ANALYSIS_MIN_SIDE / CS_POLYP_V1_IN, &S, &dh);
    }
    uint8_t *rgb = malloc((size_t)S * S * 3);
    float *tmp = malloc(sizeof(float) * (size_t)m->in_side * S * 3);
    float *in = malloc(sizeof(float) * (size_t)m->in_side * m->in_side * 3);
    float *logits = malloc(sizeof(float) * (size_t)cells);
    cs_box boxes[CS_MAX_BOXES];
    if (!rgb || !tmp || !in || !logits)
        return 1;
    for (int i = 0; i < S * S * 3; i++)
        rgb[i] = (uint8_t)((i * 2654435761u) >> 24);
    cs_image img = {.width = S, .height = S, .src_width = 640, .src_height = 640, .rgb = rgb};
    long n = 0;
    double t0 = now(), c0 = cpu_now(), t;
    float sink = 0;
    do {
        cs_polyp_input(&img, m->in_side, tmp, in);
        if (cs_polyp_net_run(net, in, logits, &err) != CS_OK) {
            fprintf(stderr, "bench-polyp-net: %s\n", err.msg);
            return 1;
        }
        sink += cs_polyp_score(logits, cells, m->topk);
        cs_polyp_sigmoid(logits, logits, cells);
        sink += (float)cs_polyp_boxes(logits, m->out_side, boxes);
        n++;
        t = now();
    } while (t - t0 < secs);
    double cpu = cpu_now() - c0;
    double fps = (double)n / cpu;
    printf(
        "{\"frames\": %ld, \"wall_fps\": %.1f, \"fps_one_thread\": %.1f, \"ms_per_frame\": %.3f, "
        "\"mflops_per_frame\": %.2f, \"mmacs_per_frame\": %.2f, "
        "\"live_studies_per_core_at_4fps\": %.0f, \"input_side\": %d, \"read_side\": %d, "
        "\"check\": %.3f}\n",
        n, (double)n / (t - t0), fps, 1000.0 / fps, 2 * macs / 1e6, macs / 1e6, fps / 4.0,
        m->in_side, S, (double)sink / (double)n);
    cs_polyp_net_free(net);
    cs_polyp_model_free(m);
    free(rgb);
    free(tmp);
    free(in);
    free(logits);
    return 0;
}
