/* cmd_eval.c - `capscreen eval --finding polyp|bleeding DIR LABELS.csv
 * [--masks DIR]`: a detector's confusion table and metrics on someone's
 * labelled frames; with masks, how well it outlines the finding.
 * `eval-bleeding` is the same with --finding bleeding. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "capscreen/decimal.h"
#include "capscreen/engine.h"
#include "capscreen/fileio.h"
#include "capscreen/image.h"
#include "capscreen/labels.h"
#include "capscreen/metrics.h"
#include "capscreen/pipeline.h"
#include "capscreen/source.h"
#include "cli/cli.h"

static void usage(FILE *f)
{
    fputs("usage: capscreen eval --finding polyp|bleeding [--model FILE] [--polyp-model FILE]\n"
          "                      [--threshold T] [--target-specificity S] [--masks DIR]\n"
          "                      DIR LABELS.csv\n"
          "       capscreen eval-bleeding [options] DIR LABELS.csv   (--finding bleeding)\n"
          "\n"
          "Run a detector on the frames of DIR named in LABELS.csv (columns file,<finding>\n"
          "with 1/0; other columns ignored) and print a confusion table, then one JSON\n"
          "object with n, accuracy, sensitivity, specificity, auroc, f1, threshold as the\n"
          "last line (auroc is null when all frames are of one class). Frames that cannot\n"
          "be read are listed on stderr and left out of the metrics. Frames may be JPEG,\n"
          "PNG or TIFF.\n"
          "\n"
          "  --masks DIR   a mask per positive frame (PNG, JPEG or TIFF; x.jpg's mask\n"
          "                is x.* or x_mask.* (12.jpg's also p12.*), any extension case,\n"
          "                in DIR's folder that mirrors the frame's (a/x.jpg: a/) or the\n"
          "                one anywhere in DIR; white = finding, or 1 in a mask whose\n"
          "                values are all 0 or 1; transparent = black):\n"
          "                adds dice (mean over positive frames, at the mask's analysis\n"
          "                size), hit_rate (share of positive frames whose highest-\n"
          "                scoring box centre lies inside the mask, flagged or not) and\n"
          "                flagged_hit_rate (flagged and hit). A positive frame without\n"
          "                a usable mask (none, two, another shape, nothing marked) is\n"
          "                named on stderr and counted in masks_missing.\n"
          "  --threshold T the frames are flagged at T instead of the model's threshold\n"
          "                (polyp: T in (0, 1), and the frames are outlined as\n"
          "                `analyze --polyp-threshold T` outlines them)\n"
          "  --target-specificity S\n"
          "                also find the lowest threshold whose specificity on these frames\n"
          "                is >= S (0..1) and the sensitivity there: a site's own operating\n"
          "                point, for `serve --polyp-threshold` (docs/engine.md); adds\n"
          "                target_specificity, threshold_for_target, sensitivity_at_target\n"
          "                and specificity_at_target to the JSON (null when no threshold\n"
          "                in (0, 1) reaches S)\n",
          f);
}

static void print_json_number(const char *key, double v, int last)
{
    if (isfinite(v))
        printf("\"%s\": %.4f%s", key, v, last ? "" : ", ");
    else
        printf("\"%s\": null%s", key, last ? "" : ", ");
}

/* The masks directory and its subfolders, indexed once: each PNG, JPEG or
 * TIFF file (extension in any case) under its base name (without folder
 * and extension), sorted by it, so a frame's mask is found by its base
 * name whatever the extensions of frame and mask, in the frame's own
 * subfolder (masks laid out as the frames are) or anywhere when that is
 * unambiguous (read_mask). */
typedef struct mask_entry {
    char *base;     /* file name without folder and extension */
    char *name;     /* path relative to the masks directory */
    size_t dir_len; /* length of name's folder part, with its '/' (0: none) */
} mask_entry;

typedef struct mask_index {
    const char *dir;
    mask_entry *e;
    size_t n, cap;
    char **pos_keys; /* base names of the positive frames, sorted */
    size_t n_pos;
    struct stat *seen; /* folders indexed (st_dev, st_ino), each once */
    size_t n_seen;
} mask_index;

static int mask_entry_cmp(const void *a, const void *b)
{
    const mask_entry *x = a, *y = b;
    int c = strcmp(x->base, y->base);
    return c ? c : strcmp(x->name, y->name);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The length of `name` without a .png, .jpg, .jpeg, .tif or .tiff
 * extension (any case); the whole length if it has none of those. */
static size_t image_base_len(const char *name)
{
    static const char *const exts[] = {".png", ".jpg", ".jpeg", ".tif", ".tiff"};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && dot != name && i < sizeof exts / sizeof *exts; i++)
        if (strcasecmp(dot, exts[i]) == 0)
            return (size_t)(dot - name);
    return strlen(name);
}

/* The file name in `path` (a path relative to DIR), after its folder
 * part path[0..*dir_len) (with the '/'; 0 when there is none). */
static const char *path_leaf(const char *path, size_t *dir_len)
{
    const char *slash = strrchr(path, '/');
    *dir_len = slash ? (size_t)(slash + 1 - path) : 0;
    return path + *dir_len;
}

static void mask_index_free(mask_index *ix)
{
    for (size_t i = 0; i < ix->n; i++) {
        free(ix->e[i].base);
        free(ix->e[i].name);
    }
    for (size_t i = 0; i < ix->n_pos; i++)
        free(ix->pos_keys[i]);
    free(ix->e);
    free(ix->pos_keys);
    free(ix->seen);
    *ix = (mask_index){0};
}

#define MASK_DEPTH_MAX 8 /* subfolder levels indexed */

/* Record folder `sb` as indexed: 1 if it is new, 0 if it was seen (a link
 * back up the tree, or two links to one folder), -1 out of memory. */
static int mask_dir_new(mask_index *ix, const struct stat *sb)
{
    for (size_t i = 0; i < ix->n_seen; i++)
        if (ix->seen[i].st_dev == sb->st_dev && ix->seen[i].st_ino == sb->st_ino)
            return 0;
    struct stat *ns = realloc(ix->seen, (ix->n_seen + 1) * sizeof *ns);
    if (!ns)
        return -1;
    ix->seen = ns;
    ix->seen[ix->n_seen++] = *sb;
    return 1;
}

/* Add the masks of folder `rel` (relative to ix->dir, "" or ending in '/')
 * and its subfolders. -1 when out of memory; folders that cannot be read
 * below the top one are skipped (their masks are then reported missing). */
static int mask_index_add(mask_index *ix, DIR *d, const char *rel, int depth)
{
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        struct stat sb;
        if ((size_t)snprintf(path, sizeof path, "%s/%s%s", ix->dir, rel, de->d_name) >= sizeof path)
            continue; /* too long to open: its frame's mask is reported missing */
        size_t bl = image_base_len(de->d_name);
        if (bl == strlen(de->d_name)) { /* not a PNG, JPEG or TIFF: a folder? */
            DIR *sub;
            if (depth >= MASK_DEPTH_MAX || stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
                continue;
            int fresh = mask_dir_new(ix, &sb);
            if (fresh < 0)
                return -1;
            if (!fresh || !(sub = opendir(path)))
                continue;
            char srel[4096];
            if ((size_t)snprintf(srel, sizeof srel, "%s%s/", rel, de->d_name) >= sizeof srel) {
                closedir(sub);
                continue;
            }
            int rc = mask_index_add(ix, sub, srel, depth + 1);
            closedir(sub);
            if (rc < 0)
                return -1;
            continue;
        }
        if (ix->n == ix->cap) {
            size_t nc = ix->cap ? ix->cap * 2 : 256;
            mask_entry *ne = realloc(ix->e, nc * sizeof *ne);
            if (!ne)
                return -1;
            ix->e = ne;
            ix->cap = nc;
        }
        mask_entry *m = &ix->e[ix->n];
        m->base = strndup(de->d_name, bl);
        m->dir_len = strlen(rel);
        m->name = malloc(m->dir_len + strlen(de->d_name) + 1);
        ix->n++;
        if (!m->base || !m->name)
            return -1;
        sprintf(m->name, "%s%s", rel, de->d_name);
    }
    return 0;
}

/* Index the masks in `dir` and its subfolders, and the base names of the
 * positive frames of `labels` (to tell when one mask could be two frames').
 * CS_ERR_IO naming the directory when it cannot be read (missing, not a
 * directory). */
static cs_status mask_index_build(const char *dir, const cs_labels *labels, mask_index *ix,
                                  cs_error *err)
{
    *ix = (mask_index){.dir = dir};
    DIR *d = opendir(dir);
    struct stat sb;
    if (!d || fstat(dirfd(d), &sb) != 0) {
        int e = errno;
        if (d)
            closedir(d);
        return cs_error_set(err, CS_ERR_IO, "cannot read the masks directory %s: %s", dir,
                            strerror(e));
    }
    int rc = mask_dir_new(ix, &sb) < 0 ? -1 : mask_index_add(ix, d, "", 0);
    closedir(d);
    if (rc == 0 && (ix->pos_keys = calloc(labels->n + 1, sizeof *ix->pos_keys)) == NULL)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < labels->n; i++) {
        if (!labels->items[i].value)
            continue;
        size_t dl;
        const char *leaf = path_leaf(labels->items[i].file, &dl);
        if (!(ix->pos_keys[ix->n_pos++] = strndup(leaf, image_base_len(leaf))))
            rc = -1;
    }
    if (rc < 0) {
        mask_index_free(ix);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory indexing %s", dir);
    }
    if (ix->n)
        qsort(ix->e, ix->n, sizeof *ix->e, mask_entry_cmp);
    if (ix->n_pos)
        qsort(ix->pos_keys, ix->n_pos, sizeof *ix->pos_keys, str_cmp);
    return CS_OK;
}

/* How many positive frames have the base name `key` (0, 1, 2: at least
 * two). */
static int key_count(const mask_index *ix, const char *key)
{
    size_t lo = 0, hi = ix->n_pos;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(ix->pos_keys[mid], key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    int n = 0;
    while (n < 2 && lo + (size_t)n < ix->n_pos && strcmp(ix->pos_keys[lo + (size_t)n], key) == 0)
        n++;
    return n;
}

/* Whether two positive frames (in different folders) have the base name
 * `key`. */
static int key_shared(const mask_index *ix, const char *key) { return key_count(ix, key) > 1; }

/* The candidates for one frame's mask: those in the frame's own folder
 * (its path relative to DIR, mirrored under the masks directory) and those
 * anywhere; the first two of each, and how many. */
typedef struct mask_pick {
    const mask_entry *here[2], *any[2];
    size_t n_here, n_any;
} mask_pick;

/* Add the index entries whose base name is `key` to `p`; `file` is the
 * frame's path relative to DIR, its folder part file[0..dir_len). */
static void mask_lookup(const mask_index *ix, const char *key, const char *file, size_t dir_len,
                        mask_pick *p)
{
    size_t lo = 0, hi = ix->n;
    while (lo < hi) { /* the first entry whose base is not below the key */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(ix->e[mid].base, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < ix->n && strcmp(ix->e[i].base, key) == 0; i++) {
        const mask_entry *e = &ix->e[i];
        if (e->dir_len == dir_len && strncmp(e->name, file, dir_len) == 0 && p->n_here++ < 2)
            p->here[p->n_here - 1] = e;
        if (p->n_any++ < 2)
            p->any[p->n_any - 1] = e;
    }
}

static int mask_at(const cs_image *m, int x, int y)
{
    const uint8_t *p = m->rgb + ((size_t)y * m->width + x) * 3;
    return p[0] + p[1] + p[2] >= 3 * 128;
}

/* Read a 0/1 mask (no value above 1: how many data sets and training
 * scripts write them) as 0/255, so its 1s are the finding rather than
 * black; the area average that made the analysis image keeps a 0/1 mask in
 * 0/1. Then the number of finding pixels: 0 for a mask that marks nothing,
 * which would score a frame with no outline as a perfect dice. */
static size_t mask_normalise(cs_image *m)
{
    size_t n = (size_t)m->width * m->height * 3, count = 0;
    uint8_t top = 0;
    for (size_t i = 0; i < n; i++)
        top = m->rgb[i] > top ? m->rgb[i] : top;
    if (top == 1)
        for (size_t i = 0; i < n; i++)
            m->rgb[i] = (uint8_t)(m->rgb[i] * 255);
    for (int y = 0; y < m->height; y++)
        for (int x = 0; x < m->width; x++)
            count += (size_t)mask_at(m, x, y);
    return count;
}

/* The mask of frame `file` (a path relative to DIR) with base name x: x.*
 * or x_mask.* (PolypGen's naming), or for a numbered frame px.* (ETIS's),
 * an alias only when no positive frame has it as its own name; in the
 * frame's folder under the masks directory, else anywhere under it when
 * that is the only one and no other positive frame is named x. Decoded at
 * analysis size into img, a 0/1 mask as 0/255 (mask_normalise). Errors
 * name the reason: no mask, two candidates (x.png and x.jpg, x.png and
 * x_mask.png, or one in each of two folders: which one is meant is not
 * ours to guess), one mask for frames in two folders, unreadable, a size
 * that is not the frame's (or a scaled copy of it: the aspect ratio must
 * agree to a pixel), or no finding marked. */
static cs_status read_mask(const mask_index *ix, const char *file, int frame_w, int frame_h,
                           cs_image *img, cs_error *err)
{
    size_t dir_len;
    const char *leaf = path_leaf(file, &dir_len);
    size_t bl = image_base_len(leaf);
    char key[1024], key_mask[1024 + sizeof "_mask"], key_p[1024 + 1];
    if (bl >= sizeof key)
        return cs_error_set(err, CS_ERR_IO, "no mask for %s: name too long", file);
    memcpy(key, leaf, bl);
    key[bl] = '\0';
    snprintf(key_mask, sizeof key_mask, "%s_mask", key);
    /* ETIS-LaribPolypDB numbers its frames (12.tif) and names the masks
     * p12.tif: for numbered frames only. */
    int numbered = bl > 0 && strspn(key, "0123456789") == bl;
    snprintf(key_p, sizeof key_p, "p%s", key);
    mask_pick p = {0};
    mask_lookup(ix, key, file, dir_len, &p);
    /* Another positive frame's own name is that frame's mask, never an
     * alias of this one's. */
    if (key_count(ix, key_mask) == 0)
        mask_lookup(ix, key_mask, file, dir_len, &p);
    if (numbered && key_count(ix, key_p) == 0)
        mask_lookup(ix, key_p, file, dir_len, &p);
    const mask_entry *found = p.n_here == 1 ? p.here[0] : p.n_any == 1 ? p.any[0] : NULL;
    if (p.n_here > 1 || (p.n_here == 0 && p.n_any > 1)) {
        const mask_entry *const *two = p.n_here > 1 ? p.here : p.any;
        return cs_error_set(err, CS_ERR_CORRUPT, "two masks for %s in %s: %s and %s", file, ix->dir,
                            two[0]->name, two[1]->name);
    }
    if (!found)
        return cs_error_set(err, CS_ERR_IO,
                            "no mask for %s in %s (a PNG, JPEG or TIFF named %s or %s%s%s)", file,
                            ix->dir, key, key_mask, numbered ? " or " : "", numbered ? key_p : "");
    /* Frames a/x.png and b/x.png with one mask x.png: it cannot be both. */
    if (p.n_here == 0 && key_shared(ix, key))
        return cs_error_set(err, CS_ERR_CORRUPT,
                            "mask %s/%s could be the mask of any positive frame named %s: frames "
                            "in different folders share that name, so give %s its mask in %s/%.*s",
                            ix->dir, found->name, key, file, ix->dir, (int)dir_len, file);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", ix->dir, found->name);
    uint8_t *data = NULL;
    size_t len = 0;
    if (cs_file_read(path, CS_ENCODED_MAX_BYTES, &data, &len, err) != CS_OK)
        return err->code;
    cs_status st = cs_decode_image(data, len, img, err);
    free(data);
    if (st != CS_OK)
        return st;
    /* The mask is compared in frame-relative coordinates, so a scaled copy
     * works; another shape is another frame's mask. */
    long mw = img->src_width, mh = img->src_height;
    if (labs(mw * frame_h - mh * (long)frame_w) > (frame_w > frame_h ? frame_w : frame_h)) {
        cs_image_free(img);
        return cs_error_set(err, CS_ERR_CORRUPT,
                            "mask %s is %ldx%ld, the frame %dx%d: a mask must have its "
                            "frame's size (or a scaled copy of it)",
                            path, mw, mh, frame_w, frame_h);
    }
    if (!mask_normalise(img)) {
        cs_image_free(img);
        return cs_error_set(err, CS_ERR_CORRUPT,
                            "mask %s marks no finding (no pixel white, or 1 in a 0/1 mask, at "
                            "its analysis size): a positive frame's mask must show the finding",
                            path);
    }
    return CS_OK;
}

/* A data set's frame at `path`, decoded here (JPEG, PNG or TIFF:
 * cs_decode_image) into `item` as a CS_ITEM_IMAGE with the worker's detail
 * image; the reason in `err` when it cannot be read or decoded. */
static cs_status read_frame(const char *path, int detail_side, cs_item *item, cs_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (cs_file_read(path, CS_ENCODED_MAX_BYTES, &data, &len, err) != CS_OK)
        return err->code;
    cs_status st = cs_decode_image_detail(data, len, detail_side, &item->image, err);
    free(data);
    if (st == CS_OK)
        item->kind = CS_ITEM_IMAGE;
    return st;
}

/* Predicted region at (u, v) in 0..1 frame coordinates: the polyp heatmap
 * (bilinear, >= 0.5), or for bleeding the union of its boxes. */
static int predicted_at(const char *finding, const float *heat, int S, const cs_frame_result *r,
                        float u, float v)
{
    if (strcmp(finding, "polyp") == 0)
        return cs_heatmap_at(heat, S, u, v) >= 0.5f;
    for (int i = 0; i < r->n_boxes; i++) {
        const cs_box *b = &r->boxes[i];
        if (u >= b->x && u < b->x + b->w && v >= b->y && v < b->y + b->h)
            return 1;
    }
    return 0;
}

/* The highest-scoring box of the finding, or NULL when the frame has none.
 * Polyp boxes come highest peak first; bleeding boxes largest first, so
 * their highest mean likelihood is looked for (ties: the larger, listed
 * first). */
static const cs_box *top_box(const char *finding, const cs_frame_result *r)
{
    if (strcmp(finding, "polyp") == 0)
        return r->n_polyp_boxes > 0 ? &r->polyp_boxes[0] : NULL;
    const cs_box *top = NULL;
    for (int i = 0; i < r->n_boxes; i++)
        if (!top || r->boxes[i].score > top->score)
            top = &r->boxes[i];
    return top;
}

/* Dice of the predicted region against the mask, and whether the top box's
 * centre is inside the mask. */
static void outline_scores(const char *finding, const float *heat, int heat_side,
                           const cs_frame_result *r, const cs_image *mask, double *dice, int *hit)
{
    size_t inter = 0, np = 0, nm = 0;
    for (int y = 0; y < mask->height; y++)
        for (int x = 0; x < mask->width; x++) {
            int m = mask_at(mask, x, y);
            int p = predicted_at(finding, heat, heat_side, r, (x + 0.5f) / mask->width,
                                 (y + 0.5f) / mask->height);
            inter += (size_t)(m && p);
            np += (size_t)p;
            nm += (size_t)m;
        }
    *dice = np + nm ? 2.0 * (double)inter / (double)(np + nm) : 1.0;
    const cs_box *top = top_box(finding, r);
    *hit = 0;
    if (top) {
        int cx = (int)((top->x + top->w / 2) * mask->width);
        int cy = (int)((top->y + top->h / 2) * mask->height);
        cx = cx >= mask->width ? mask->width - 1 : cx;
        cy = cy >= mask->height ? mask->height - 1 : cy;
        *hit = mask_at(mask, cx, cy);
    }
}

static int run_eval(const char *cmd, const char *finding, int argc, char **argv)
{
    static const struct option longopts[] = {{"model", required_argument, 0, 'm'},
                                             {"polyp-model", required_argument, 0, 'p'},
                                             {"threshold", required_argument, 0, 't'},
                                             {"finding", required_argument, 0, 'f'},
                                             {"masks", required_argument, 0, 'M'},
                                             {"target-specificity", required_argument, 0, 'S'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    const char *model = NULL, *polyp_model = NULL, *masks = NULL, *threshold_text = NULL;
    double threshold = -1, target_spec = -1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'p': polyp_model = optarg; break;
        case 'M': masks = optarg; break;
        case 'f': finding = optarg; break;
        case 't':
            if (!cs_parse_decimal(optarg, &threshold) || threshold > 1) {
                cli_fail("--threshold must be a number in [0, 1], not '%s'", optarg);
                return 2;
            }
            /* The detectors compare a float probability with a float
             * threshold: count the frames as they flag them. */
            threshold = (float)threshold;
            threshold_text = optarg;
            break;
        case 'S':
            if (!cs_parse_decimal(optarg, &target_spec) || target_spec > 1) {
                cli_fail("--target-specificity must be a number in [0, 1], not '%s'", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!finding || (strcmp(finding, "polyp") != 0 && strcmp(finding, "bleeding") != 0)) {
        cli_fail("%s needs --finding polyp or --finding bleeding%s%s%s", cmd,
                 finding ? " (not '" : "", finding ? finding : "", finding ? "')" : "");
        return 2;
    }
    if (strcmp(cmd, "eval-bleeding") == 0 && strcmp(finding, "bleeding") != 0) {
        /* the alias names its finding; another one is a mistaken command */
        cli_fail("eval-bleeding evaluates bleeding only; use 'capscreen eval --finding %s'",
                 finding);
        return 2;
    }
    if (optind != argc - 2) {
        cli_fail("%s needs DIR and LABELS.csv (try 'capscreen %s --help')", cmd, cmd);
        return 2;
    }
    const int polyp = strcmp(finding, "polyp") == 0;
    /* The engine flags polyps (and outlines flagged frames) at the
     * threshold: it must be one the engine takes. */
    if (polyp && threshold_text && !(threshold > 0 && threshold < 1)) {
        cli_fail("--threshold for polyps must be a number in (0, 1) (as a float), not '%s'",
                 threshold_text);
        return 2;
    }
    const char *dir = argv[optind], *csv = argv[optind + 1];
    cs_error err = {0};
    cs_labels labels = {0};
    cs_engine *eng = NULL;
    cs_worker *w = NULL;
    float *scores = NULL;
    int *truth = NULL;
    size_t used = 0, failed = 0, n_masks = 0, n_hits = 0, n_flagged_hits = 0, masks_missing = 0;
    double dice_sum = 0;
    mask_index mix = {0};
    int rc = 1;
    struct stat sb;

    /* Both directories are checked before any frame is read: a wrong path
     * is one clear error, not a line per frame. */
    int no_dir = stat(dir, &sb) != 0;
    if (no_dir || !S_ISDIR(sb.st_mode)) {
        cli_fail("frames directory %s: %s", dir, no_dir ? strerror(errno) : "not a directory");
        return 1;
    }
    int no_masks = masks && stat(masks, &sb) != 0;
    if (masks && (no_masks || !S_ISDIR(sb.st_mode))) {
        cli_fail("cannot read the masks directory %s: %s", masks,
                 no_masks ? strerror(errno) : "not a directory");
        return 1;
    }

    if (cs_labels_read_column(csv, finding, &labels, &err) != CS_OK) {
        cli_fail("%s", err.msg);
        goto done;
    }
    if (labels.n == 0) {
        cli_fail("%s lists no frames", csv);
        goto done;
    }
    if (masks && mask_index_build(masks, &labels, &mix, &err) != CS_OK) {
        cli_fail("%s", err.msg);
        goto done;
    }
    if (cs_engine_load_models(model, polyp_model, &eng, &err) != CS_OK ||
        (polyp && threshold_text && cs_engine_set_polyp_threshold(eng, threshold, &err) != CS_OK) ||
        cs_worker_new(eng, &w, &err) != CS_OK) {
        cli_fail("%s", err.msg);
        goto done;
    }
    if (threshold < 0)
        threshold = polyp ? cs_engine_polyp_threshold(eng) : cs_engine_threshold(eng);
    scores = malloc(labels.n * sizeof *scores);
    truth = malloc(labels.n * sizeof *truth);
    if (!scores || !truth) {
        cli_fail("out of memory");
        goto done;
    }
    for (size_t i = 0; i < labels.n; i++) {
        char path[4096];
        cs_item item = {.kind = CS_ITEM_ENCODED, .frame_index = -1, .capture_time_us = -1};
        cs_outcome o;
        snprintf(path, sizeof path, "%s/%s", dir, labels.items[i].file);
        snprintf(item.name, sizeof item.name, "%s", labels.items[i].file);
        cs_error rerr = {0};
        if (read_frame(path, cs_worker_detail_side(w), &item, &rerr) != CS_OK) {
            item.kind = CS_ITEM_BROKEN;
            item.status = rerr.code;
            snprintf(item.reason, sizeof item.reason, "%s", rerr.msg);
        }
        cs_analyze_item(w, &item, i, &o);
        cs_item_clear(&item);
        if (!o.ok) {
            fprintf(stderr, "capscreen: %s: skipped %s: %s\n", cmd, o.name, o.reason);
            failed++;
            continue;
        }
        scores[used] = polyp ? o.result.polyp_probability : o.result.bleeding_probability;
        truth[used++] = labels.items[i].value;
        if (masks && labels.items[i].value) {
            cs_image mask = {0};
            cs_error merr = {0};
            if (read_mask(&mix, labels.items[i].file, o.width, o.height, &mask, &merr) != CS_OK) {
                fprintf(stderr, "capscreen: %s: no outline score for %s: %s\n", cmd, o.name,
                        merr.msg);
                masks_missing++;
                continue;
            }
            double dice;
            int hit;
            outline_scores(finding, cs_worker_polyp_heatmap(w, 0),
                           cs_engine_polyp_heatmap_side(eng), &o.result, &mask, &dice, &hit);
            cs_image_free(&mask);
            dice_sum += dice;
            n_hits += (size_t)hit;
            n_flagged_hits += (size_t)(hit && (polyp ? o.result.polyp : o.result.bleeding));
            n_masks++;
        }
    }
    if (used == 0) {
        cli_fail("no frame of %s could be analysed", csv);
        goto done;
    }
    cs_metrics m, at_target = {0};
    cs_metrics_compute(scores, truth, used, threshold, &m);
    double target_thr = NAN;
    if (target_spec >= 0) {
        if (m.tn + m.fp == 0) {
            cli_fail("--target-specificity needs frames without the finding (%s = 0) in %s",
                     finding, csv);
            goto done;
        }
        double t = INFINITY;
        cs_sensitivity_at_specificity(scores, truth, used, target_spec, &t);
        /* A threshold the engine takes, in (0, 1), with the same flags or
         * fewer: specificity only rises with the threshold. At 0: the
         * lowest score above 0. At 1: the float just under 1, when no
         * frame scores between it and 1. */
        if (t <= 0) {
            t = INFINITY;
            for (size_t i = 0; i < used; i++)
                if (scores[i] > 0 && scores[i] < t)
                    t = scores[i];
        } else if (t >= 1) {
            cs_metrics below;
            cs_metrics_compute(scores, truth, used, nextafterf(1.0f, 0.0f), &below);
            t = below.specificity >= target_spec ? nextafterf(1.0f, 0.0f) : INFINITY;
        }
        if (t > 0 && t < 1) {
            target_thr = t;
            cs_metrics_compute(scores, truth, used, target_thr, &at_target);
        }
    }
    printf("%s detector on %zu frames (%zu unreadable, left out), threshold %.9g\n", finding, used,
           failed, threshold);
    printf("%-17s predicted %-8s   predicted clean\n", "", finding);
    printf("actual %-10s %18zu   %15zu\n", finding, m.tp, m.fn);
    printf("actual clean      %18zu   %15zu\n", m.fp, m.tn);
    if (masks)
        printf("outlines: %zu positive frames with masks (%zu without), dice %.4f, hit rate %.4f, "
               "flagged and hit %.4f\n",
               n_masks, masks_missing, n_masks ? dice_sum / (double)n_masks : NAN,
               n_masks ? (double)n_hits / (double)n_masks : NAN,
               n_masks ? (double)n_flagged_hits / (double)n_masks : NAN);
    if (target_spec >= 0 && isfinite(target_thr)) {
        /* %.9g: the float threshold reads back as itself. */
        char sens[32] = "n/a (no positive frame)";
        if (isfinite(at_target.sensitivity))
            snprintf(sens, sizeof sens, "%.4f", at_target.sensitivity);
        printf("specificity >= %.4f on these frames from threshold %.9g: sensitivity %s, "
               "specificity %.4f\n",
               target_spec, target_thr, sens, at_target.specificity);
        if (polyp)
            printf("to flag polyps there: capscreen serve --polyp-threshold %.9g (or analyze)\n",
                   target_thr);
    } else if (target_spec >= 0)
        printf("no threshold in (0, 1) gives specificity >= %.4f on these frames\n", target_spec);
    printf("{\"finding\": \"%s\", \"n\": %zu, \"skipped\": %zu, \"tp\": %zu, \"fp\": %zu, "
           "\"tn\": %zu, \"fn\": %zu, ",
           finding, m.n, failed, m.tp, m.fp, m.tn, m.fn);
    if (masks) {
        printf("\"n_masks\": %zu, \"masks_missing\": %zu, ", n_masks, masks_missing);
        print_json_number("dice", n_masks ? dice_sum / (double)n_masks : NAN, 0);
        print_json_number("hit_rate", n_masks ? (double)n_hits / (double)n_masks : NAN, 0);
        print_json_number("flagged_hit_rate",
                          n_masks ? (double)n_flagged_hits / (double)n_masks : NAN, 0);
    }
    if (target_spec >= 0) {
        int reached = isfinite(target_thr);
        print_json_number("target_specificity", target_spec, 0);
        printf("\"threshold_for_target\": ");
        if (reached)
            printf("%.9g, ", target_thr);
        else
            printf("null, ");
        print_json_number("sensitivity_at_target",
                          reached && at_target.tp + at_target.fn ? at_target.sensitivity : NAN, 0);
        print_json_number("specificity_at_target", reached ? at_target.specificity : NAN, 0);
    }
    /* %.9g: the float threshold reads back as itself. */
    printf("\"threshold\": %.9g, ", m.threshold);
    print_json_number("accuracy", m.accuracy, 0);
    print_json_number("sensitivity", m.sensitivity, 0);
    print_json_number("specificity", m.specificity, 0);
    print_json_number("precision", m.precision, 0);
    print_json_number("f1", m.f1, 0);
    print_json_number("auroc", m.auroc, 1);
    printf("}\n");
    rc = 0;
done:
    free(scores);
    free(truth);
    mask_index_free(&mix);
    cs_worker_free(w);
    cs_engine_free(eng);
    cs_labels_free(&labels);
    return rc;
}

int cli_eval(int argc, char **argv) { return run_eval("eval", NULL, argc, argv); }

int cli_eval_bleeding(int argc, char **argv)
{
    return run_eval("eval-bleeding", "bleeding", argc, argv);
}
