/* reference.c - checking an imported case's reference (reference.h). */
#include "server/training/reference.h"

#include <stdio.h>
#include <string.h>

#include "server/core/vocabulary.h"

static bool findings_ok(json_t *list, char *why, size_t cap)
{
    size_t i;
    json_t *f;
    if (!json_is_array(list)) {
        snprintf(why, cap, "findings must be a list");
        return false;
    }
    json_array_foreach(list, i, f)
    {
        json_t *from = json_object_get(f, "seq_from"), *to = json_object_get(f, "seq_to");
        const char *type = json_string_value(json_object_get(f, "type"));
        if (!json_is_object(f) || !cs_vocab_has(cs_vocab_finding_types, type)) {
            snprintf(why, cap,
                     "findings[%zu].type must be a finding type (fresh_blood, polyp, "
                     "ulcer, angioectasia, erosion, other)",
                     i);
            return false;
        }
        if (!json_is_integer(from) || json_integer_value(from) < 0) {
            snprintf(why, cap, "findings[%zu].seq_from must be a frame number", i);
            return false;
        }
        if (to && (!json_is_integer(to) || json_integer_value(to) < json_integer_value(from))) {
            snprintf(why, cap, "findings[%zu].seq_to must be a frame number >= seq_from", i);
            return false;
        }
    }
    return true;
}

bool cs_training_reference_check(json_t *ref, char *why, size_t cap)
{
    const char *key;
    json_t *v;
    if (!json_is_object(ref)) {
        snprintf(why, cap, "the reference must be a JSON object");
        return false;
    }
    json_object_foreach(ref, key, v)
    {
        if (strcmp(key, "findings") == 0) {
            if (!findings_ok(v, why, cap))
                return false;
        } else if (strcmp(key, "landmarks") == 0) {
            const char *k;
            json_t *seq;
            if (!json_is_object(v)) {
                snprintf(why, cap, "landmarks must be an object {landmark: frame}");
                return false;
            }
            json_object_foreach(v, k, seq)
            {
                if (!cs_vocab_has(cs_vocab_landmarks, k) || !json_is_integer(seq) ||
                    json_integer_value(seq) < 0) {
                    snprintf(why, cap,
                             "landmarks.%.40s must be a landmark (first_gastric, "
                             "first_duodenal, first_caecal, excreted) and a frame",
                             k);
                    return false;
                }
            }
        } else if (strcmp(key, "cleansing") == 0) {
            const char *k;
            json_t *score;
            if (!json_is_object(v)) {
                snprintf(why, cap, "cleansing must be an object {segment: 0..3}");
                return false;
            }
            json_object_foreach(v, k, score)
            {
                if (!cs_vocab_has(cs_vocab_segments, k) || !json_is_integer(score) ||
                    json_integer_value(score) < 0 || json_integer_value(score) > 3) {
                    snprintf(why, cap, "cleansing.%.40s must be a segment scored 0..3 (CC-CLEAR)",
                             k);
                    return false;
                }
            }
        } else {
            snprintf(why, cap, "unknown key '%.40s' (findings, landmarks, cleansing)", key);
            return false;
        }
    }
    return true;
}
