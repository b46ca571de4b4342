/* fuzz_polyp_weights.c - libFuzzer target: feeds arbitrary bytes to the
 * polyp weights loader (cs_polyp_model_parse), as given and with the
 * trailing CRC-32C recomputed (so mutations reach the shape and value checks
 * behind the checksum; in an ensemble, each member's too). A parse either fails with a reason or yields a model
 * whose layers lie inside its own copy of the bytes; anything else aborts.
 *
 * Build: -DCS_FUZZ=ON with clang (target fuzz_polyp_weights). Seeds: the
 * shipped weights, the small headers (versions 1 and 2) and a valid
 * ensemble of two tiny networks (version 3, and as version 4 with a crop
 * gate) in corpus/polyp_weights/:
 *   ./fuzz_polyp_weights tests/fuzz/corpus/polyp_weights models \
 *     -max_total_time=60 -max_len=700000 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capscreen/crc32c.h"
#include "engine/polyp_net.h"

static void check(const uint8_t *data, size_t len)
{
    cs_polyp_model *m = NULL;
    cs_error err = {0};
    cs_status st = cs_polyp_model_parse(data, len, &m, &err);
    if (st != CS_OK) {
        if (m || err.msg[0] == '\0')
            abort();
        return;
    }
    if (!m || !(m->threshold > 0 && m->threshold < 1) || m->len != len)
        abort();
    /* sides the network and the engine's buffers can take */
    if (m->in_side < CS_POLYP_MIN_IN || m->in_side > CS_POLYP_MAX_IN || m->in_side % 16 != 0 ||
        m->out_side * 2 != m->in_side || (m->version == 1 && m->in_side != CS_POLYP_V1_IN) ||
        m->topk < 1 || m->topk > CS_POLYP_MAX_TOPK || m->topk > m->out_side * m->out_side)
        abort();
    /* an ensemble (version 3, or 4 with a crop gate in [0, 1)):
     * 2..CS_POLYP_MAX_MEMBERS single networks (version 1 or 2) of the same
     * sides; every network's tensors inside its own bytes */
    if (cs_polyp_is_ensemble_version((uint32_t)m->version) !=
        (m->n_members >= 2 && m->n_members <= CS_POLYP_MAX_MEMBERS))
        abort();
    if (m->crops_in_score != (m->version == (int)CS_POLYP_CROP_ENSEMBLE_VERSION) ||
        !(m->crop_gate >= 0.0f && m->crop_gate < 1.0f) ||
        (!m->crops_in_score && m->crop_gate != 0.0f))
        abort();
    for (int j = 0; j < cs_polyp_model_networks(m); j++) {
        const cs_polyp_model *net = cs_polyp_model_network(m, j);
        if (net->in_side != m->in_side || net->out_side != m->out_side || net->topk != m->topk ||
            (m->n_members &&
             (cs_polyp_is_ensemble_version((uint32_t)net->version) || net->crops_in_score)))
            abort();
        for (int i = 0; i < CS_POLYP_NLAYERS; i++) {
            const cs_polyp_layer *l = &net->layers[i];
            const uint8_t *w = (const uint8_t *)l->weight;
            size_t n = (size_t)l->cout * (size_t)l->cin_per_group * (size_t)(l->k * l->k);
            if (w < net->bytes || w + 4 * (n + (size_t)l->cout) > net->bytes + net->len - 4)
                abort();
        }
    }
    cs_polyp_model_free(m);
}

static void seal(uint8_t *b, size_t len)
{
    uint32_t crc = cs_crc32c(0, b, len - 4);
    for (int i = 0; i < 4; i++)
        b[len - 4 + i] = (uint8_t)(crc >> (8 * i));
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size);
    if (size >= 8 && size <= CS_POLYP_MAX_BYTES) {
        uint8_t *copy = malloc(size);
        if (!copy)
            return 0;
        memcpy(copy, data, size);
        /* An ensemble's members first (each as its length prefix says,
         * while it fits), then the container. */
        size_t off = size >= 12 && rd32(copy + 8) == CS_POLYP_CROP_ENSEMBLE_VERSION ? 24 : 20;
        if (size >= off + 4 && cs_polyp_is_ensemble_version(rd32(copy + 8))) {
            while (size - 4 - off >= 4) {
                uint32_t n = rd32(copy + off);
                off += 4;
                if (n > size - 4 - off)
                    break;
                if (n >= 8)
                    seal(copy + off, n);
                off += n;
            }
        }
        seal(copy, size);
        check(copy, size);
        free(copy);
    }
    return 0;
}
