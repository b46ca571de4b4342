/* vocabulary.h - the word lists the server and the pages share: roles,
 * frame flags, finding types, landmarks, cleansing segments and grades.
 * They are defined once here; the pages read them from
 * GET /api/v1/vocabulary. Each list ends with a NULL name. Constant data,
 * safe from any thread. */
#ifndef CS_SERVER_VOCABULARY_H
#define CS_SERVER_VOCABULARY_H

#include <stdbool.h>
#include <stddef.h>

/* A word and its label for people. */
typedef struct cs_vocab_word {
    const char *name;
    const char *label;
} cs_vocab_word;

extern const cs_vocab_word cs_vocab_roles[];       /* entry i is the role with bit 1 << i */
extern const cs_vocab_word cs_vocab_frame_flags[]; /* bit i of a frame's flags */
extern const cs_vocab_word cs_vocab_finding_types[];
extern const cs_vocab_word cs_vocab_landmarks[];
extern const cs_vocab_word cs_vocab_segments[];
extern const cs_vocab_word cs_vocab_grades[];
extern const cs_vocab_word cs_vocab_recommendations[];
/* The clinical record (docs/clinical-record.md). */
extern const cs_vocab_word cs_vocab_finding_segments[];
extern const cs_vocab_word cs_vocab_morphologies[]; /* Paris classification */
extern const cs_vocab_word cs_vocab_sexes[];        /* FHIR administrative gender */
extern const cs_vocab_word cs_vocab_pathways[];
extern const cs_vocab_word cs_vocab_indications[];

/* Is `v` one of the list's names? false for NULL. */
bool cs_vocab_has(const cs_vocab_word *list, const char *v);

/* The list's names as prose, "a, b or c", into out (cap bytes, always
 * terminated; cut short if it does not fit): for a refusal's reason, so it
 * never drifts from what is accepted. */
void cs_vocab_join(const cs_vocab_word *list, char *out, size_t cap);

#endif
