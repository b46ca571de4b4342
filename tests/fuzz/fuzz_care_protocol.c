/* fuzz_care_protocol.c - libFuzzer target for the care protocol parser
 * (src/server/care/protocol.h), which reads an operator's JSON file.
 *
 * Invariants beyond "no crash": a parsed protocol has every timing within
 * its documented range, at most the capped number of boosters and prep
 * steps, and NUL-terminated texts; an error always has a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/care/protocol.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    cs_protocol p;
    cs_error err = {0};
    if (cs_protocol_parse(text, &p, &err) == CS_OK) {
        check(p.no_frames_alert_s >= 1 && p.no_frames_alert_s <= 86400);
        check(p.hub_offline_alert_s >= 1 && p.hub_offline_alert_s <= 86400);
        check(p.gastric_retention_alert_s >= 1 && p.gastric_retention_alert_s <= 86400);
        check(p.spool_full_pct >= 1 && p.spool_full_pct <= 100);
        check(p.nboosters >= 0 && p.nboosters <= CS_PROTOCOL_BOOSTERS_MAX);
        check(p.nprep >= 0 && p.nprep <= CS_PROTOCOL_PREP_MAX);
        for (int i = 0; i < p.nboosters; i++)
            check(memchr(p.boosters[i].instruction, 0, sizeof p.boosters[i].instruction) &&
                  p.boosters[i].id[0] && p.boosters[i].delay_s >= 0);
        for (int i = 0; i < p.nprep; i++)
            check(strlen(p.prep[i].time) == 5 && p.prep[i].text[0]);
    } else {
        check(err.msg[0] != '\0');
    }
    free(text);
    return 0;
}
