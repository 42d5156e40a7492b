/* gongji-load's command line: options, usage, and which of the two jobs to run (load a
 * CSV into a store, or generate one). The loader as a whole is described in load.h. */
#include "gj_limits.h"
#include "gj_util.h"
#include "load.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: gongji-load --data-dir DIR --region CODE [--batch N] [--restart] [--encoding ENC]\n"
            "                   [--quiet] FILE.csv\n"
            "       gongji-load --dry-run [--data-dir DIR] --region CODE [--encoding ENC] FILE.csv\n"
            "       gongji-load --generate N --region CODE [--seed S] > FILE.csv\n"
            "\n"
            "Load a region's insured persons and their personal-account opening balances from\n"
            "CSV into the LMDB store in DIR (the data_dir of that region's node), check such a\n"
            "file without loading it, or write N valid rows of made-up people for tests.\n"
            "\n"
            "STOP THE NODE FIRST. The store's writer is per process: run the loader only while\n"
            "no gongji-node (and no other loader) has DIR open. LMDB would let both in, but the\n"
            "node does not expect its data to change under it.\n"
            "\n"
            "  -d, --data-dir DIR   the node's data directory (created when absent)\n"
            "  -r, --region CODE    6-digit region code: every person is insured here\n"
            "  -b, --batch N        rows per transaction, 1..%d (default %d)\n"
            "      --restart        ignore recorded progress and read the whole file again\n"
            "      --encoding ENC   the file's encoding: UTF-8, GBK or GB18030 (default: decided\n"
            "                       from its first 64 KiB)\n"
            "      --dry-run        read and check every row as a load would, report the bad ones,\n"
            "                       and write nothing: DIR is neither created nor opened\n"
            "      --ignore-unknown-columns\n"
            "                       skip columns it does not know (单位名称, ...) instead of\n"
            "                       refusing the file\n"
            "  -q, --quiet          print bad rows only: no progress, no summary\n"
            "  -g, --generate N     write a header and N valid rows to standard output\n"
            "  -s, --seed S         seed for --generate (default 1); same seed, same rows\n"
            "  -h, --help           show this help\n"
            "  -V, --version        show the version\n"
            "\n"
            "CSV as Excel or the platform saves it (docs/import.md): UTF-8 (a byte-order mark\n"
            "allowed) or GBK/GB18030, fields quoted or not, lines ending in LF or CRLF. The\n"
            "first record is the header: these columns, in any order, named in English (any\n"
            "case) or Chinese:\n"
            "  psn_no     人员编号, 个人编号, 参保人编号: 1..%d visible ASCII characters\n"
            "  certno     身份证号, 身份证号码, 证件号码, 公民身份号码: 18-character\n"
            "             resident ID with a valid check character (GB 11643); one row a certno\n"
            "  psn_name   姓名, 人员姓名 (optional): at most %d bytes of UTF-8, no line break\n"
            "  insutype   险种, 险种类型, 险种代码: 310 or 职工基本医疗保险 (employee, has a\n"
            "             personal account), 390 or 城乡居民基本医疗保险 (resident, none)\n"
            "  status     参保状态, 人员参保状态, 状态: 1, active, 正常参保, 在职, 退休, ...;\n"
            "             2, suspended, 暂停参保, ...; 3, terminated, 终止参保, ...\n"
            "  balance    余额, 账户余额, 个人账户余额, 期初余额 (optional): opening balance in\n"
            "             yuan, at most two decimals (\"1234.50\", \"1,234.50\", \"￥1,234.50\");\n"
            "             only for 310: empty or 0 for 390\n"
            "Every record has as many fields as the header; a field holding a comma is quoted.\n"
            "Blank lines and records of empty fields are skipped. Any other column is an error.\n"
            "\n"
            "A bad row is reported on standard error as FILE:LINE: reason, with the value as\n"
            "written, and skipped; the good rows still load. LINE is the line the record starts\n"
            "on. A certno already on an earlier line is a bad row naming that line. A person\n"
            "already in the store is left unchanged and not credited again (one with another\n"
            "certno is a bad row). Progress is recorded with each batch under the file's name\n"
            "and size: after a crash or kill, run the same command again and it resumes after\n"
            "the last committed record (reading the rows before it again for their certnos).\n"
            "\n"
            "On a terminal, standard error shows a progress bar; otherwise one summary line.\n"
            "Exit status: 0 every row loaded (or already present; with --dry-run: would load),\n"
            "1 some rows were bad, 2 usage error, cannot read the file or its header, cannot\n"
            "open the store, or the store refused a write.\n",
            LOAD_BATCH_MAX, LOAD_BATCH_DEFAULT, GJ_PSN_NO_MAX, GJ_NAME_MAX);
}

static bool parse_u64(const char *text, uint64_t max, uint64_t *out)
{
    if (text == NULL || *text < '0' || *text > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return false;
    *out = v;
    return true;
}

static bool region_valid(const char *region)
{
    return region != NULL && strlen(region) == GJ_ADMDVS_LEN && gj_all_digits(region, GJ_ADMDVS_LEN);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"region", required_argument, NULL, 'r'},
                                         {"batch", required_argument, NULL, 'b'},
                                         {"restart", no_argument, NULL, 'R'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"encoding", required_argument, NULL, 'E'},
                                         {"dry-run", no_argument, NULL, 'n'},
                                         {"ignore-unknown-columns", no_argument, NULL, 'U'},
                                         {"generate", required_argument, NULL, 'g'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    load_options o = {.batch_max = LOAD_BATCH_DEFAULT};
    const char *region = NULL;
    uint64_t batch = LOAD_BATCH_DEFAULT, generate = 0, seed = 1;
    bool generating = false, seeded = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "d:r:b:qg:s:hV", opts, NULL)) != -1) {
        switch (opt) {
        case 'd': o.data_dir = optarg; break;
        case 'r': region = optarg; break;
        case 'b':
            if (!parse_u64(optarg, LOAD_BATCH_MAX, &batch) || batch == 0) {
                fprintf(stderr, "gongji-load: --batch must be 1..%d\n", LOAD_BATCH_MAX);
                return EXIT_USAGE;
            }
            break;
        case 'R': o.restart = true; break;
        case 'q': o.quiet = true; break;
        case 'E': o.encoding = optarg; break;
        case 'n': o.dry_run = true; break;
        case 'U': o.ignore_unknown = true; break;
        case 'g':
            if (!parse_u64(optarg, GEN_SERIAL_MAX, &generate)) {
                fprintf(stderr, "gongji-load: --generate must be 0..%llu\n", GEN_SERIAL_MAX);
                return EXIT_USAGE;
            }
            generating = true;
            break;
        case 's':
            if (!parse_u64(optarg, UINT64_MAX, &seed)) {
                fprintf(stderr, "gongji-load: --seed must be a non-negative integer\n");
                return EXIT_USAGE;
            }
            seeded = true;
            break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("gongji-load %s\n", GONGJI_VERSION); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (region == NULL || !region_valid(region)) {
        fprintf(stderr, "gongji-load: --region must be a 6-digit region code\n");
        return EXIT_USAGE;
    }
    if (generating) {
        if (o.data_dir != NULL || optind != argc || o.dry_run || o.encoding != NULL) {
            fprintf(stderr, "gongji-load: --generate writes to standard output: no --data-dir, --dry-run, "
                            "--encoding or FILE\n");
            return EXIT_USAGE;
        }
        return load_generate(generate, region, seed);
    }
    if (seeded || (o.data_dir == NULL && !o.dry_run) || optind != argc - 1) {
        usage(stderr);
        return EXIT_USAGE;
    }
    o.region = region;
    o.path = argv[optind];
    o.batch_max = (size_t)batch;
    return load_run(&o);
}
