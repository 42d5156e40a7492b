/* Net positions between regions drawn as SVG (clearing_svg.c). */
#ifndef GJ_CLEARING_SVG_H
#define GJ_CLEARING_SVG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLEARING_SVG_REGIONS_MAX 64

/* Write the picture for n regions: owes[i * n + j] is what region i owes region j, net,
 * in fen (0 or more; a pair has at most one of its two directions above 0); net[i] is
 * region i's net (positive: the others owe it). Returns 0, or -1 on a write error or
 * more than CLEARING_SVG_REGIONS_MAX regions. */
int clearing_svg_write(FILE *f, const char *title, size_t n, const char *const *regions, const int64_t *owes,
                       const int64_t *net);

#endif
