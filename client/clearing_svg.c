/* Net positions between regions as an SVG picture (gongji clearing --svg): readable
 * in any browser, no spreadsheet needed (docs/clearing.md shows one).
 *
 * Regions sit on a circle; an arrow runs from each region that owes to the one it owes,
 * as wide as the amount allows (the largest 14 px), labelled in yuan. Beneath, one bar
 * per region: its net over the window, green when others owe it, red when it owes. */
#include "clearing_svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gj_util.h"

#define SVG_W 760
#define CIRCLE_CX 380
#define CIRCLE_CY 250
#define CIRCLE_R 170
#define BAR_TOP 500
#define BAR_H 22
#define BAR_GAP 8
#define BAR_LEFT 250
#define BAR_HALF 220 /* the bars' half width: net 0 in the middle */

/* Text is region codes, yuan and the caller's title: escape what XML would read. */
static void put_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t')
                fputc(*s, f);
        }
    }
}

static int64_t abs64(int64_t v)
{
    return v < 0 ? -v : v;
}

int clearing_svg_write(FILE *f, const char *title, size_t n, const char *const *regions, const int64_t *owes,
                       const int64_t *net)
{
    if (f == NULL || n > CLEARING_SVG_REGIONS_MAX || (n > 0 && (regions == NULL || owes == NULL || net == NULL)))
        return -1;
    int64_t biggest_arrow = 1, biggest_net = 1;
    for (size_t i = 0; i < n * n; i++)
        if (owes[i] > biggest_arrow)
            biggest_arrow = owes[i];
    for (size_t i = 0; i < n; i++)
        if (abs64(net[i]) > biggest_net)
            biggest_net = abs64(net[i]);
    int height = BAR_TOP + (int)n * (BAR_H + BAR_GAP) + 40;
    double x[CLEARING_SVG_REGIONS_MAX], y[CLEARING_SVG_REGIONS_MAX];
    for (size_t i = 0; i < n; i++) {
        double a = -M_PI / 2 + 2 * M_PI * (double)i / (double)(n ? n : 1);
        x[i] = CIRCLE_CX + (n > 1 ? CIRCLE_R * cos(a) : 0);
        y[i] = CIRCLE_CY + (n > 1 ? CIRCLE_R * sin(a) : 0);
    }

    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"sans-serif\" font-size=\"13\">\n",
            SVG_W, height, SVG_W, height);
    fputs("<defs><marker id=\"head\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerUnits=\"userSpaceOnUse\" "
          "markerWidth=\"26\" markerHeight=\"26\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" "
          "fill=\"#555\"/></marker></defs>\n",
          f);
    fputs("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"20\" y=\"28\" font-size=\"17\" "
          "font-weight=\"bold\">",
          f);
    put_text(f, title != NULL ? title : "");
    fputs("</text>\n<text x=\"20\" y=\"48\" fill=\"#555\">arrow: who owes whom, net, in yuan (its width "
          "follows the amount)</text>\n",
          f);
    if (n == 0)
        fputs("<text x=\"20\" y=\"90\">nothing to clear in this window</text>\n", f);

    /* Arrows, debtor to creditor, stopping short of the circles. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int64_t amount = owes[i * n + j];
            if (i == j || amount <= 0)
                continue;
            double dx = x[j] - x[i], dy = y[j] - y[i], len = sqrt(dx * dx + dy * dy);
            if (len < 1)
                continue;
            double ux = dx / len, uy = dy / len, gap = 34;
            double width = 1.5 + 12.5 * (double)amount / (double)biggest_arrow;
            char yuan[32];
            fprintf(f,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#777\" stroke-opacity=\"0.75\" "
                    "stroke-width=\"%.1f\" marker-end=\"url(#head)\"/>\n",
                    x[i] + ux * gap, y[i] + uy * gap, x[j] - ux * gap, y[j] - uy * gap, width);
            /* The label sits beside the line's middle, off to its left, so the two
             * directions of a pair do not overlap. */
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#333\">%s</text>\n",
                    (x[i] + x[j]) / 2 + uy * 14, (y[i] + y[j]) / 2 - ux * 14, gj_yuan_format(amount, yuan));
        }
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"30\" fill=\"%s\" stroke=\"#333\"/>\n", x[i], y[i],
                net[i] > 0 ? "#d8f0d8" : net[i] < 0 ? "#f6d6d6" : "#eeeeee");
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-weight=\"bold\">", x[i], y[i] + 5);
        put_text(f, regions[i]);
        fputs("</text>\n", f);
    }

    /* Bars: each region's net (positive: the others owe it). */
    if (n > 0)
        fprintf(f, "<text x=\"20\" y=\"%d\" font-weight=\"bold\">net per region (yuan): green is owed, red owes"
                   "</text>\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>\n",
                BAR_TOP - 12, BAR_LEFT + BAR_HALF, BAR_TOP - 4, BAR_LEFT + BAR_HALF,
                BAR_TOP + (int)n * (BAR_H + BAR_GAP));
    for (size_t i = 0; i < n; i++) {
        int top = BAR_TOP + (int)i * (BAR_H + BAR_GAP);
        double w = (double)BAR_HALF * (double)abs64(net[i]) / (double)biggest_net;
        double left = net[i] >= 0 ? BAR_LEFT + BAR_HALF : BAR_LEFT + BAR_HALF - w;
        char yuan[32];
        fprintf(f, "<text x=\"20\" y=\"%d\">", top + 16);
        put_text(f, regions[i]);
        fprintf(f, "</text>\n<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n", left, top, w,
                BAR_H, net[i] >= 0 ? "#3a9a3a" : "#c43c3c");
        fprintf(f, "<text x=\"%d\" y=\"%d\">%s</text>\n", BAR_LEFT + 2 * BAR_HALF + 12, top + 16,
                gj_yuan_format(net[i], yuan));
    }
    fputs("</svg>\n", f);
    return ferror(f) ? -1 : 0;
}
