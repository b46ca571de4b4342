/* vocabulary.c - the shared word lists and GET /api/v1/vocabulary. */
#include <string.h>

#include "server/api/api.h"
#include "server/api/vocabulary.h"

const cs_vocab_word cs_vocab_roles[] = {
    {"admin", "Admin"}, {"reader", "Reader"}, {"consultant", "Consultant"},
    {"coordinator", "Coordinator"}, {NULL, NULL},
};
/* The order is the bit order of the flags in GET .../frames. */
const cs_vocab_word cs_vocab_frame_flags[] = {
    {"ok", "Decoded"}, {"readable", "Readable"}, {"bleeding", "Bleeding"},
    {"redundant", "Redundant"}, {"blurry", "Blurry"}, {"image", "Image kept"}, {NULL, NULL},
};
const cs_vocab_word cs_vocab_finding_types[] = {
    {"fresh_blood", "Fresh blood"}, {"polyp", "Polyp"}, {"ulcer", "Ulcer"},
    {"angioectasia", "Angioectasia"}, {"erosion", "Erosion"}, {"other", "Other"}, {NULL, NULL},
};
const cs_vocab_word cs_vocab_landmarks[] = {
    {"first_gastric", "First gastric"}, {"first_duodenal", "First duodenal"},
    {"first_caecal", "First caecal"}, {"excreted", "Capsule excreted"}, {NULL, NULL},
};
const cs_vocab_word cs_vocab_segments[] = {
    {"small_bowel", "Small bowel"}, {"right_colon", "Right colon"},
    {"transverse_colon", "Transverse colon"}, {"left_colon", "Left colon"},
    {"rectum", "Rectum"}, {NULL, NULL},
};
const cs_vocab_word cs_vocab_grades[] = {
    {"excellent", "Excellent"}, {"good", "Good"}, {"fair", "Fair"}, {"poor", "Poor"},
    {NULL, NULL},
};
const cs_vocab_word cs_vocab_recommendations[] = {
    {"no_further_test", "No further test"}, {"colonoscopy", "Colonoscopy"},
    {"repeat_capsule", "Repeat capsule"}, {NULL, NULL},
};

bool cs_vocab_has(const cs_vocab_word *list, const char *v)
{
    for (size_t i = 0; v && list[i].name; i++)
        if (strcmp(list[i].name, v) == 0)
            return true;
    return false;
}

static json_t *list_json(const cs_vocab_word *list)
{
    json_t *a = json_array();
    for (size_t i = 0; list[i].name; i++)
        json_array_append_new(a, json_pack("{s:s, s:s}", "name", list[i].name, "label",
                                           list[i].label));
    return a;
}

enum MHD_Result cs_api_vocabulary(cs_server *s, struct MHD_Connection *c, cs_req *r)
{
    (void)s;
    (void)r;
    json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                          "roles", list_json(cs_vocab_roles),
                          "frame_flags", list_json(cs_vocab_frame_flags),
                          "finding_types", list_json(cs_vocab_finding_types),
                          "landmarks", list_json(cs_vocab_landmarks),
                          "segments", list_json(cs_vocab_segments),
                          "grades", list_json(cs_vocab_grades),
                          "recommendations", list_json(cs_vocab_recommendations));
    return cs_http_json(c, 200, o, false, NULL);
}
