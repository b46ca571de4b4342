/* rules.c - the care protocol's alert rules (rules.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "server/care/rules.h"

const char *cs_care_stage(const cs_care_facts *f)
{
    if (f->excreted_at_ms)
        return "excreted";
    if (f->colon_at_ms)
        return "colon";
    if (f->small_bowel_at_ms)
        return "small_bowel";
    if (f->stomach_at_ms)
        return "stomach";
    return f->first_byte_ms ? "ingested" : "awaiting";
}

int64_t cs_care_small_bowel_entry_ms(const cs_care_facts *f)
{
    int64_t sb = f->small_bowel_at_ms, colon = f->colon_at_ms;
    return sb && (!colon || sb <= colon) ? sb : colon;
}

static void add(cs_care_alert *out, size_t cap, size_t *n, const char *kind, const char *key,
                const char *fmt, ...) CS_PRINTF(6, 7);
static void add(cs_care_alert *out, size_t cap, size_t *n, const char *kind, const char *key,
                const char *fmt, ...)
{
    if (*n >= cap)
        return;
    cs_care_alert *a = &out[(*n)++];
    snprintf(a->kind, sizeof a->kind, "%s", kind);
    snprintf(a->key, sizeof a->key, "%s", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->message, sizeof a->message, fmt, ap);
    va_end(ap);
}

/* "45 s" or "12 min": how long, for a message. */
static const char *span(int64_t ms, char *buf, size_t cap)
{
    if (ms < 120000)
        snprintf(buf, cap, "%lld s", (long long)(ms / 1000));
    else
        snprintf(buf, cap, "%lld min", (long long)(ms / 60000));
    return buf;
}

size_t cs_care_rules_timed(const cs_protocol *p, const cs_care_facts *f, cs_care_alert *out,
                           size_t cap)
{
    size_t n = 0;
    char key[CS_ALERT_KEY_MAX], t[32];
    /* A closed study, or one whose capsule has left, needs no watching
     * for data; excretion itself is still announced once, and frames the
     * hub uploads afterwards (its backlog) can still show bleeding. */
    bool watching = !f->closed && !f->excreted_at_ms;
    if (f->excreted_at_ms)
        add(out, cap, &n, "excreted", "1",
            "The capsule has been excreted: the recording is complete.");
    if (!f->closed && p->bleeding_live && f->n_bleeding > 0)
        add(out, cap, &n, "bleeding", "1",
            "Suspected bleeding: %llu frame(s) flagged so far. Review the study.",
            (unsigned long long)f->n_bleeding);
    if (!watching)
        return n;
    if (f->last_byte_ms && f->now_ms - f->last_byte_ms >= p->no_frames_alert_s * 1000) {
        snprintf(key, sizeof key, "%lld", (long long)f->last_byte_ms);
        add(out, cap, &n, "no_frames", key, "No frames received for %s.",
            span(f->now_ms - f->last_byte_ms, t, sizeof t));
    }
    /* A recorder that records while nothing arrives: the hub cannot
     * upload, or the capsule sends nothing it can read. */
    if (!f->last_byte_ms && f->recording_no_bytes_since_ms &&
        f->now_ms - f->recording_no_bytes_since_ms >= p->no_frames_alert_s * 1000)
        add(out, cap, &n, "no_frames", "none",
            "The recorder has reported recording for %s and no frames have been received.",
            span(f->now_ms - f->recording_no_bytes_since_ms, t, sizeof t));
    if (f->hub.at_ms && f->now_ms - f->hub.at_ms >= p->hub_offline_alert_s * 1000) {
        snprintf(key, sizeof key, "%lld", (long long)f->hub.at_ms);
        add(out, cap, &n, "hub_offline", key, "The hub has not reported for %s.",
            span(f->now_ms - f->hub.at_ms, t, sizeof t));
    }
    if (f->first_byte_ms && !f->small_bowel_at_ms && !f->colon_at_ms &&
        f->now_ms - f->first_byte_ms >= p->gastric_retention_alert_s * 1000)
        add(out, cap, &n, "gastric_retention", "1",
            "Small-bowel entry not marked %s after the first frames: possible gastric "
            "retention.",
            span(f->now_ms - f->first_byte_ms, t, sizeof t));
    int64_t entry = cs_care_small_bowel_entry_ms(f);
    if (entry)
        for (int i = 0; i < p->nboosters; i++)
            if (f->now_ms >= entry + p->boosters[i].delay_s * 1000)
                add(out, cap, &n, "booster_due", p->boosters[i].id, "%s: %s", p->boosters[i].id,
                    p->boosters[i].instruction);
    return n;
}

size_t cs_care_rules_status(const cs_protocol *p, const cs_care_facts *f,
                            const cs_hub_status_rec *before, const cs_hub_status_rec *now,
                            cs_care_alert *out, size_t cap)
{
    size_t n = 0;
    char key[CS_ALERT_KEY_MAX];
    if (f->closed)
        return 0;
    /* Keyed by the report crossed from: two reports that arrive at once,
     * each read against the same last report, raise one alert between
     * them (the store's unique key), where keys of their own times raised
     * two (and two pages). A later crossing comes from a later report. */
    snprintf(key, sizeof key, "%lld", (long long)before->at_ms);
    bool was_full = before->at_ms && before->spool_used_pct >= p->spool_full_pct;
    if (now->spool_used_pct >= p->spool_full_pct && !was_full)
        add(out, cap, &n, "spool_full", key, "The hub's spool is %d%% full (limit %d%%).",
            now->spool_used_pct, p->spool_full_pct);
    bool was_recording = !before->at_ms || strcmp(before->recorder, "recording") == 0;
    /* Before the first bytes a recorder may be stopped and started while
     * it is set up; an error then is still a study that cannot go on. */
    bool started = f->first_byte_ms || strcmp(now->recorder, "error") == 0;
    if (p->end_of_recording_incomplete && started && was_recording &&
        strcmp(now->recorder, "recording") != 0 && !f->excreted_at_ms)
        add(out, cap, &n, "recording_ended_incomplete", key,
            "The recorder reports \"%s\" before the capsule was marked excreted%s%s.",
            now->recorder, now->message[0] ? ": " : "", now->message);
    return n;
}
