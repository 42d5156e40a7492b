/* gongji-bench's data (bench_load.c): for regions[0] (the coordinator) beneficiaries
 * AL*, AX*, AY* and local sponsors AS*; for regions[1] sponsors BX* (paying in full) and
 * BY* (first in order, nothing to share); for regions[2] sponsors CY*. */
#ifndef GJ_BENCH_LOAD_H
#define GJ_BENCH_LOAD_H

/* Write region's share of people 0..people-1 into the store in dir (not running). 0, or
 * -1 when it cannot be opened or written. */
int bench_load_region(const char *const region_codes[], int region, const char *dir, int people);

#endif
