/* vocabulary.c - the word lists the server and the pages share, defined
 * once (core/vocabulary.h). */
#include <stdio.h>
#include <string.h>

#include "server/core/vocabulary.h"

const cs_vocab_word cs_vocab_roles[] = {
    {"admin", "Admin"},
    {"reader", "Reader"},
    {"consultant", "Consultant"},
    {"coordinator", "Coordinator"},
    {"trainer", "Trainer"},
    {"trainee", "Trainee"},
    {NULL, NULL},
};
/* The order is the bit order of the flags in GET .../frames. */
const cs_vocab_word cs_vocab_frame_flags[] = {
    {"ok", "Decoded"},
    {"readable", "Readable"},
    {"bleeding", "Bleeding"},
    {"redundant", "Redundant"},
    {"blurry", "Blurry"},
    {"image", "Image kept"},
    {"polyp", "Polyp"},
    {"polyp_scored", "Polyp scored"},
    {NULL, NULL},
};
const cs_vocab_word cs_vocab_finding_types[] = {
    {"fresh_blood", "Fresh blood"},
    {"polyp", "Polyp"},
    {"ulcer", "Ulcer"},
    {"angioectasia", "Angioectasia"},
    {"erosion", "Erosion"},
    {"other", "Other"},
    {NULL, NULL},
};
const cs_vocab_word cs_vocab_landmarks[] = {
    {"first_gastric", "First gastric"},
    {"first_duodenal", "First duodenal"},
    {"first_caecal", "First caecal"},
    {"excreted", "Capsule excreted"},
    {NULL, NULL},
};
const cs_vocab_word cs_vocab_segments[] = {
    {"small_bowel", "Small bowel"},
    {"right_colon", "Right colon"},
    {"transverse_colon", "Transverse colon"},
    {"left_colon", "Left colon"},
    {"rectum", "Rectum"},
    {NULL, NULL},
};
const cs_vocab_word cs_vocab_grades[] = {
    {"excellent", "Excellent"}, {"good", "Good"}, {"fair", "Fair"}, {"poor", "Poor"}, {NULL, NULL},
};
const cs_vocab_word cs_vocab_recommendations[] = {
    {"no_further_test", "No further test"},
    {"colonoscopy", "Colonoscopy"},
    {"repeat_capsule", "Repeat capsule"},
    {NULL, NULL},
};

const cs_vocab_word cs_vocab_finding_segments[] = {
    {"oesophagus", "Oesophagus"},
    {"stomach", "Stomach"},
    {"small_bowel", "Small bowel"},
    {"caecum", "Caecum"},
    {"right_colon", "Right colon"},
    {"transverse_colon", "Transverse colon"},
    {"left_colon", "Left colon"},
    {"rectum", "Rectum"},
    {NULL, NULL},
};
/* Paris classification of superficial neoplastic lesions (2003). */
const cs_vocab_word cs_vocab_morphologies[] = {
    {"0-Ip", "0-Ip pedunculated"}, {"0-Isp", "0-Isp semi-pedunculated"},
    {"0-Is", "0-Is sessile"},      {"0-IIa", "0-IIa slightly elevated"},
    {"0-IIb", "0-IIb flat"},       {"0-IIc", "0-IIc slightly depressed"},
    {"0-III", "0-III excavated"},  {NULL, NULL},
};
const cs_vocab_word cs_vocab_sexes[] = {
    {"female", "Female"},   {"male", "Male"}, {"other", "Other"},
    {"unknown", "Unknown"}, {NULL, NULL},
};
const cs_vocab_word cs_vocab_pathways[] = {
    {"screening", "Screening programme"},
    {"symptomatic", "Symptomatic"},
    {NULL, NULL},
};
const cs_vocab_word cs_vocab_indications[] = {
    {"fit_positive", "Positive FIT"},
    {"surveillance", "Surveillance"},
    {"symptoms", "Symptoms"},
    {"incomplete_colonoscopy", "Incomplete colonoscopy"},
    {"other", "Other"},
    {NULL, NULL},
};

bool cs_vocab_has(const cs_vocab_word *list, const char *v)
{
    for (size_t i = 0; v && list[i].name; i++)
        if (strcmp(list[i].name, v) == 0)
            return true;
    return false;
}

void cs_vocab_join(const cs_vocab_word *list, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; list[i].name && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s",
                              i == 0             ? ""
                              : list[i + 1].name ? ", "
                                                 : " or ",
                              list[i].name);
}
