/* fuzz_labels.c - libFuzzer target: feeds arbitrary bytes to the labels CSV
 * parser (cs_labels_parse) as `capscreen eval --finding polyp` reads them
 * (column "polyp", group ignored) and as the training tools do (column
 * "bleeding" with CS_LABELS_GROUP). A parse either fails with a reason and
 * an empty list, or yields rows that each have a non-empty file name, a
 * value of 0 or 1 (however written: `1`, `1.0`; bleeding the same), a group of -1 or more (-1 only
 * without CS_LABELS_GROUP or without the column), a line number in order,
 * and no file twice; anything else aborts.
 *
 * Build: -DCS_FUZZ=ON with clang (target fuzz_labels). Seeds in
 * corpus/labels/:
 *   ./fuzz_labels tests/fuzz/corpus/labels -max_total_time=60 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capscreen/labels.h"

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void check(const uint8_t *data, size_t size, const char *column, unsigned flags)
{
    cs_labels l;
    cs_error err = {0};
    memset(&l, 0xA5, sizeof l);
    cs_status st = cs_labels_parse((const char *)data, size, "fuzz.csv", column, flags, &l, &err);
    if (st != CS_OK) {
        if (err.code != st || err.msg[0] == '\0' || l.items || l.n)
            abort();
        return;
    }
    if (l.n && !l.items)
        abort();
    char **names = l.n ? malloc(l.n * sizeof *names) : NULL;
    if (l.n && !names)
        abort();
    long last = 1; /* the header's line at least */
    for (size_t i = 0; i < l.n; i++) {
        const cs_label *x = &l.items[i];
        if (!x->file || x->file[0] == '\0' || (x->value != 0 && x->value != 1) ||
            x->bleeding != x->value || x->group < -1 ||
            (!(flags & CS_LABELS_GROUP) && x->group != -1) || x->line <= last)
            abort();
        last = x->line;
        names[i] = x->file;
    }
    if (l.n > 1) {
        qsort(names, l.n, sizeof *names, by_name);
        for (size_t i = 1; i < l.n; i++)
            if (strcmp(names[i - 1], names[i]) == 0)
                abort();
    }
    free(names);
    cs_labels_free(&l);
    if (l.items || l.n)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size, "polyp", 0);
    check(data, size, "bleeding", CS_LABELS_GROUP);
    return 0;
}
