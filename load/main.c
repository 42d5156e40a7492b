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
            "Usage: gongji-load --data-dir DIR --region CODE [--batch N] [--restart] [--quiet] FILE.csv\n"
            "       gongji-load --generate N --region CODE [--seed S] > FILE.csv\n"
            "\n"
            "Load a region's insured persons and their personal-account opening balances from\n"
            "CSV into the LMDB store in DIR (the data_dir of that region's node), or write N\n"
            "valid rows of made-up people for tests.\n"
            "\n"
            "STOP THE NODE FIRST. The store's writer is per process: run the loader only while\n"
            "no gongji-node (and no other loader) has DIR open. LMDB would let both in, but the\n"
            "node does not expect its data to change under it.\n"
            "\n"
            "  -d, --data-dir DIR   the node's data directory (created when absent)\n"
            "  -r, --region CODE    6-digit region code: every person is insured here\n"
            "  -b, --batch N        rows per transaction, 1..%d (default %d)\n"
            "      --restart        ignore recorded progress and read the whole file again\n"
            "  -q, --quiet          print bad rows only: no progress, no summary\n"
            "  -g, --generate N     write a header and N valid rows to standard output\n"
            "  -s, --seed S         seed for --generate (default 1); same seed, same rows\n"
            "  -h, --help           show this help\n"
            "  -V, --version        show the version\n"
            "\n"
            "CSV: UTF-8, one person per line, the header line first, exactly:\n"
            "  " LOAD_HEADER "\n"
            "  psn_no     1..%d visible ASCII characters\n"
            "  certno     18-character resident ID with a valid check character (GB 11643)\n"
            "  psn_name   optional, at most %d bytes of UTF-8\n"
            "  insutype   310 (employee, has a personal account) or 390 (resident, none)\n"
            "  status     active, suspended or terminated (or 1, 2, 3)\n"
            "  balance    opening balance in yuan, at most two decimals (\"1234.50\"); only for\n"
            "             310; empty or 0 for 390\n"
            "Fields are split at every comma: quoted fields are not supported, so no field may\n"
            "contain a comma or a double quote. Spaces around a field are ignored, as are empty\n"
            "lines and a byte-order mark. Lines longer than %d bytes are bad rows.\n"
            "\n"
            "A bad row is reported on standard error as FILE:LINE: reason and skipped; the\n"
            "good rows still load. A person already in the store is left unchanged and not\n"
            "credited again (one with another certno is a bad row). Progress is recorded with\n"
            "each batch under the file's name and size: after a crash or kill, run the same\n"
            "command again and it resumes after the last committed line.\n"
            "\n"
            "On a terminal, standard error shows a progress bar; otherwise one summary line.\n"
            "Exit status: 0 every row loaded (or already present), 1 some rows were bad,\n"
            "2 usage error, cannot open the file or the store, or the store refused a write.\n",
            LOAD_BATCH_MAX, LOAD_BATCH_DEFAULT, GJ_PSN_NO_MAX, GJ_NAME_MAX, LOAD_LINE_MAX);
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
                                         {"generate", required_argument, NULL, 'g'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    const char *data_dir = NULL, *region = NULL;
    uint64_t batch = LOAD_BATCH_DEFAULT, generate = 0, seed = 1;
    bool quiet = false, restart = false, generating = false, seeded = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "d:r:b:qg:s:hV", opts, NULL)) != -1) {
        switch (opt) {
        case 'd': data_dir = optarg; break;
        case 'r': region = optarg; break;
        case 'b':
            if (!parse_u64(optarg, LOAD_BATCH_MAX, &batch) || batch == 0) {
                fprintf(stderr, "gongji-load: --batch must be 1..%d\n", LOAD_BATCH_MAX);
                return EXIT_USAGE;
            }
            break;
        case 'R': restart = true; break;
        case 'q': quiet = true; break;
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
        if (data_dir != NULL || optind != argc) {
            fprintf(stderr, "gongji-load: --generate writes to standard output: no --data-dir, no FILE\n");
            return EXIT_USAGE;
        }
        return load_generate(generate, region, seed);
    }
    if (seeded || data_dir == NULL || optind != argc - 1) {
        usage(stderr);
        return EXIT_USAGE;
    }
    return load_run(data_dir, region, (size_t)batch, restart, quiet, argv[optind]);
}
