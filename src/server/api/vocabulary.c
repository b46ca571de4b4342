/* vocabulary.c - GET /api/v1/vocabulary: the shared word lists
 * (core/vocabulary.h) for the pages. */
#include "server/api/api.h"
#include "server/core/vocabulary.h"

static json_t *list_json(const cs_vocab_word *list)
{
    json_t *a = json_array();
    for (size_t i = 0; list[i].name; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:s}", "name", list[i].name, "label", list[i].label));
    return a;
}

enum MHD_Result cs_api_vocabulary(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    (void)api;
    (void)r;
    json_t *o = json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "roles",
        list_json(cs_vocab_roles), "frame_flags", list_json(cs_vocab_frame_flags), "finding_types",
        list_json(cs_vocab_finding_types), "landmarks", list_json(cs_vocab_landmarks), "segments",
        list_json(cs_vocab_segments), "grades", list_json(cs_vocab_grades), "recommendations",
        list_json(cs_vocab_recommendations), "finding_segments",
        list_json(cs_vocab_finding_segments), "morphologies", list_json(cs_vocab_morphologies),
        "sexes", list_json(cs_vocab_sexes), "pathways", list_json(cs_vocab_pathways), "indications",
        list_json(cs_vocab_indications));
    return cs_http_json(c, 200, o, false, NULL);
}
