/* cmd_study.c - `capscreen study create|revoke-device`: study
 * administration on the server's data folder (works while it runs). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "capscreen/framestream.h"
#include "capscreen/server.h"
#include "capscreen/store.h"
#include "cli/cli.h"
#include "server/api/studies.h"
#include "server/auth/tokens.h"
#include "server/core/patient.h"
#include "server/training/reference.h"

static const char *env_lookup(const char *name) { return getenv(name); }

static void usage(FILE *f)
{
    fputs("usage: capscreen study create --data DIR [--label TEXT] [--config FILE]\n"
          "           [--nhs-number N --family NAME --given NAME --birth-date YYYY-MM-DD\n"
          "            --sex female|male|other|unknown]\n"
          "           [--pathway screening|symptomatic] [--indication fit_positive|\n"
          "            surveillance|symptoms|incomplete_colonoscopy|other]\n"
          "           [--indication-detail TEXT] [--referrer TEXT]\n"
          "       capscreen study import --data DIR [--label TEXT] FILE.csfs\n"
          "       capscreen study import --data DIR --course ID --reference REF.json\n"
          "           [--label TEXT] FILE.csfs\n"
          "       capscreen study revoke-device --data DIR --study ID\n"
          "\n"
          "create: make a study, its one-time enrolment code and the patient's code for\n"
          "the companion page; the last line printed is JSON {\"study\": ID,\n"
          "\"enrolment_code\": CODE, \"patient_code\": CODE}. The enrolment code expires\n"
          "after code_ttl seconds (--code-ttl, default 7 days); the patient code when\n"
          "the study is closed or after 14 days. The patient block (all five of its\n"
          "options, or none) and the episode are checked as the API checks them\n"
          "(docs/clinical-record.md): an invalid NHS number or date of birth is refused.\n"
          "import: make a study from a frame-stream file (capscreen pack makes one);\n"
          "the server analyses it at its start, or within 30 s when it runs. The last\n"
          "line printed is JSON {\"study\": ID}.\n"
          "With --course and --reference, the imported study becomes a training case of\n"
          "that course (docs/training.md, \"Importing a case\"), REF.json its known\n"
          "answer, checked first; the last line printed is JSON {\"study\": ID,\n"
          "\"case\": ID}.\n"
          "revoke-device: revoke every device token of the study; prints\n"
          "{\"study\": ID, \"revoked\": N}.\n"
          "With --db postgresql://... (or CAPSCREEN_DB, or db in the --config file)\n"
          "the store is that PostgreSQL database, as for capscreen serve.\n",
          f);
}

/* True when `file` is a frame-stream file; else a one-line reason. Checked
 * before the store is opened: a video, a stray file or a FIFO given by
 * mistake would otherwise become a study with no frames (or wait for ever
 * on the FIFO). */
static bool import_file_ok(const char *file)
{
    struct stat sb;
    if (stat(file, &sb) != 0) {
        cli_fail("study import: cannot read %s: %s", file, strerror(errno));
        return false;
    }
    if (!S_ISREG(sb.st_mode)) {
        cli_fail("study import: %s is not a regular file", file);
        return false;
    }
    if (!cs_fs_is_stream_file(file)) {
        cli_fail("study import: %s is not a frame-stream file ('capscreen pack' makes one "
                 "from a folder of JPEG frames)",
                 file);
        return false;
    }
    return true;
}

/* `study import --course ID --reference REF.json FILE`: the reference and
 * the course are checked before anything is stored; then the study is
 * imported and made a case of the course. Returns the exit status. */
static int import_case(cs_store *st, const cs_server_config *cfg, const char *label,
                       const char *course, const char *reference, const char *file)
{
    cs_error err = {0};
    json_error_t je;
    char why[200], id[CS_ID_MAX];
    cs_course_rec cr;
    bool found = false;
    if (!course || !reference) {
        cli_fail("study import: a training case needs both --course and --reference");
        return 2;
    }
    json_t *ref = json_load_file(reference, 0, &je);
    if (!ref) {
        cli_fail("study import: %s is not JSON: %s (line %d)", reference, je.text, je.line);
        return 2;
    }
    cs_case_rec *k = calloc(1, sizeof *k);
    char *text = NULL;
    int rc = 1;
    if (!k) {
        cli_fail("study import: out of memory");
    } else if (!cs_training_reference_check(ref, why, sizeof why)) {
        cli_fail("study import: %s: %s", reference, why);
        rc = 2;
    } else if (!(text = json_dumps(ref, JSON_COMPACT)) || strlen(text) >= sizeof k->reference) {
        cli_fail("study import: %s is larger than a case's reference (%zu bytes)", reference,
                 sizeof k->reference - 1);
        rc = 2;
    } else if (cs_store_course_get(st, course, &found, &cr, &err) != CS_OK) {
        cli_fail("study import: %s", err.msg);
    } else if (!found) {
        cli_fail("study import: no course '%s' (make it with POST /api/v1/training/courses)",
                 course);
        rc = 2;
    } else if (cs_study_import(st, cfg->data_dir, label, file, true, id, &err) != CS_OK) {
        cli_fail("study import: %s", err.msg);
    } else {
        cs_check_outcome out;
        cs_id_new(k->id, 8);
        snprintf(k->course, sizeof k->course, "%s", course);
        snprintf(k->study, sizeof k->study, "%s", id);
        snprintf(k->label, sizeof k->label, "%s", label && label[0] ? label : "Imported case");
        snprintf(k->reference, sizeof k->reference, "%s", text);
        snprintf(k->created_by, sizeof k->created_by, "capscreen study import");
        k->created_at_ms = (int64_t)time(NULL) * 1000;
        if (cs_store_case_create(st, k, &out, &err) != CS_OK || out != CS_CHECK_OK) {
            cli_fail("study import: study %s imported as a training study (on no worklist), "
                     "but the case was not made: %s; import the file again",
                     id, err.msg[0] ? err.msg : cs_check_outcome_name(out));
        } else {
            printf("study %s imported from %s as case %s of course %s\n", id, file, k->id, course);
            printf("{\"study\": \"%s\", \"case\": \"%s\"}\n", id, k->id);
            rc = 0;
        }
    }
    free(text);
    free(k);
    json_decref(ref);
    return rc;
}

int cli_study(int argc, char **argv)
{
    cs_server_config cfg;
    cs_store *st = NULL;
    cs_error err = {0};
    const char *label = NULL, *study = NULL;
    /* the patient and the episode (docs/clinical-record.md) */
    const char *nhs = NULL, *family = NULL, *given = NULL, *dob = NULL, *sex = NULL;
    const char *pathway = NULL, *indication = NULL, *detail = NULL, *referrer = NULL;
    /* a training case imported with its reference (docs/training.md) */
    const char *course = NULL, *reference = NULL;
    int rc = 1;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "create") != 0 && strcmp(sub, "import") != 0 &&
        strcmp(sub, "revoke-device") != 0) {
        cli_fail("study: unknown subcommand '%s' (create, import, revoke-device)", sub);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
    }
    /* import takes the file as its last argument. */
    const char *file = NULL;
    if (strcmp(sub, "import") == 0) {
        if (argc < 3 || argv[argc - 1][0] == '-') {
            cli_fail("study import needs a frame-stream FILE (try 'capscreen study --help')");
            return 2;
        }
        file = argv[--argc];
    }
    const cs_cli_option extra[] = {{"--label", &label},
                                   {"--study", &study},
                                   {"--nhs-number", &nhs},
                                   {"--family", &family},
                                   {"--given", &given},
                                   {"--birth-date", &dob},
                                   {"--sex", &sex},
                                   {"--pathway", &pathway},
                                   {"--indication", &indication},
                                   {"--indication-detail", &detail},
                                   {"--referrer", &referrer},
                                   {"--course", &course},
                                   {"--reference", &reference},
                                   {NULL, NULL}};
    if (cs_server_config_from_args(&cfg, argc - 1, argv + 1, extra, env_lookup, &err) != CS_OK) {
        cli_fail("study %s: %s (try 'capscreen study --help')", sub, err.msg);
        return 2;
    }
    if (file && !import_file_ok(file))
        return 1;
    if (cs_store_open_db(cfg.db, cfg.data_dir, &st, &err) != CS_OK) {
        cli_fail("study: %s", err.msg);
        return 1;
    }
    if (file && (course || reference)) {
        rc = import_case(st, &cfg, label, course, reference, file);
        goto fail; /* rc says how it went */
    } else if (file) {
        char id[CS_ID_MAX];
        if (cs_study_import(st, cfg.data_dir, label, file, false, id, &err) != CS_OK) {
            cli_fail("study import: %s", err.msg);
            goto fail;
        }
        printf("study %s imported from %s\n", id, file);
        printf("{\"study\": \"%s\"}\n", id);
    } else if (strcmp(sub, "create") == 0) {
        char id[CS_ID_MAX], code[CS_CODE_LEN + 1], patient[CS_CODE_LEN + 1];
        char today[11], why[32], msg[512];
        int64_t expires = 0;
        cs_patient_rec pr;
        cs_episode_rec er;
        /* The same checks as POST /api/v1/studies, on the same JSON shape. */
        json_t *body = json_object(), *pj = json_object(), *ej = json_object();
        const struct {
            json_t *obj;
            const char *key, *val;
        } fields[] = {{pj, "nhs_number", nhs},
                      {pj, "family", family},
                      {pj, "given", given},
                      {pj, "birth_date", dob},
                      {pj, "sex", sex},
                      {ej, "pathway", pathway},
                      {ej, "indication", indication},
                      {ej, "indication_detail", detail},
                      {ej, "referrer", referrer}};
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            if (fields[i].val)
                json_object_set_new(fields[i].obj, fields[i].key, json_string(fields[i].val));
        json_object_set_new(body, "patient", json_object_size(pj) ? json_incref(pj) : json_null());
        json_object_set_new(body, "episode", json_object_size(ej) ? json_incref(ej) : json_null());
        json_decref(pj);
        json_decref(ej);
        cs_date_utc((int64_t)time(NULL), today);
        int bad = cs_patient_from_json(body, today, &pr, &er, why, msg, sizeof msg);
        json_decref(body);
        if (bad) {
            cli_fail("study create: %s (%s)", msg, why);
            rc = 2;
            goto fail;
        }
        if (cs_study_create(st, label, &pr, &er, cfg.code_ttl_s, id, code, &expires, patient,
                            &err) != CS_OK) {
            cli_fail("study create: %s", err.msg);
            goto fail;
        }
        printf("study %s created; enrolment code %s (valid until unix time %lld); patient code "
               "%s (the companion page, while the study is open)\n",
               id, code, (long long)expires, patient);
        printf("{\"study\": \"%s\", \"enrolment_code\": \"%s\", \"patient_code\": \"%s\"}\n", id,
               code, patient);
    } else {
        int n = 0;
        bool found = false;
        cs_study_rec rec;
        if (!study) {
            cli_fail("study revoke-device needs --study ID");
            rc = 2;
            goto fail;
        }
        if (cs_store_study_get(st, study, &found, &rec, &err) != CS_OK || !found) {
            cli_fail("study revoke-device: %s", found ? err.msg : "no such study");
            goto fail;
        }
        if (cs_store_devices_revoke(st, study, (int64_t)time(NULL), &n, &err) != CS_OK) {
            cli_fail("study revoke-device: %s", err.msg);
            goto fail;
        }
        printf("{\"study\": \"%s\", \"revoked\": %d}\n", study, n);
    }
    rc = 0;
fail:
    cs_store_close(st);
    return rc;
}
