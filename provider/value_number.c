/* value_number.c — Terraform numbers as canonical decimal text.
 *
 * go-cty holds numbers as 512-bit big.Float and considers two numbers equal
 * when big.Float.Text('f', -1) prints them the same.  Here a number is that
 * text, kept exact: "-" (if negative), the integer digits without leading
 * zeros, and "." plus the fraction digits without trailing zeros when there
 * is a fraction.  No exponent ("1e+400" becomes "1" and 400 zeros), no "-0".
 * Equal numbers therefore have equal text, and 1.0 == 1 is strcmp() == 0.
 * The only departure from go-cty: decimals longer than 512 bits of precision
 * (about 150 digits) stay exact here where go-cty would round them.
 */
#include "provider/value_internal.h"

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

char *sfv_num_canon(const char *text, size_t len, const char **why)
{
    if (len > 2 * SFV_NUM_MAX_TEXT) {
        *why = "too many digits";
        return NULL;
    }
    size_t i = 0;
    bool neg = false;
    if (i < len && (text[i] == '+' || text[i] == '-')) neg = text[i++] == '-';
    /* Mantissa digits, integer part then fraction, into d. */
    char *d = sfv_malloc(len + 1);
    size_t nd = 0, nint = 0;
    while (i < len && is_digit(text[i])) d[nd++] = text[i++], nint++;
    if (i < len && text[i] == '.') {
        i++;
        while (i < len && is_digit(text[i])) d[nd++] = text[i++];
    }
    long long exp = 0;
    if (nd > 0 && i < len && (text[i] == 'e' || text[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (text[i] == '+' || text[i] == '-')) eneg = text[i++] == '-';
        if (i == len || !is_digit(text[i])) nd = 0; /* "1e" is not a number */
        while (i < len && is_digit(text[i])) {
            if (exp < 1000000000) exp = exp * 10 + (text[i] - '0');
            i++;
        }
        if (eneg) exp = -exp;
    }
    if (nd == 0 || i != len) {
        free(d);
        *why = "not a number";
        return NULL;
    }
    /* value = 0.d * 10^point */
    long long point = (long long)nint + exp;
    size_t lead = 0;
    while (lead < nd && d[lead] == '0') lead++, point--;
    while (nd > lead && d[nd - 1] == '0') nd--;
    const char *digits = d + lead;
    long long ndig = (long long)(nd - lead);
    if (ndig == 0) {
        free(d);
        return sf_strdup("0");
    }
    long long outlen = neg ? 1 : 0;
    if (point <= 0) outlen += 2 - point + ndig;
    else if (point >= ndig) outlen += point;
    else outlen += ndig + 1;
    if (outlen > SFV_NUM_MAX_TEXT) {
        free(d);
        *why = "magnitude or precision too large";
        return NULL;
    }
    char *out = sfv_malloc((size_t)outlen + 1), *o = out;
    if (neg) *o++ = '-';
    if (point <= 0) {
        *o++ = '0';
        *o++ = '.';
        memset(o, '0', (size_t)-point);
        o += -point;
        memcpy(o, digits, (size_t)ndig);
        o += ndig;
    } else if (point >= ndig) {
        memcpy(o, digits, (size_t)ndig);
        o += ndig;
        memset(o, '0', (size_t)(point - ndig));
        o += point - ndig;
    } else {
        memcpy(o, digits, (size_t)point);
        o += point;
        *o++ = '.';
        memcpy(o, digits + point, (size_t)(ndig - point));
        o += ndig - point;
    }
    *o = '\0';
    free(d);
    return out;
}

bool sfv_num_is_canonical(const char *s)
{
    bool neg = *s == '-';
    if (neg) s++;
    if (!is_digit(*s)) return false;
    if (*s == '0' && is_digit(s[1])) return false;
    bool zero_int = *s == '0';
    while (is_digit(*s)) s++;
    if (*s == '\0') return !(neg && zero_int);
    if (*s != '.' || !is_digit(s[1])) return false;
    s++;
    while (is_digit(*s)) s++;
    return *s == '\0' && s[-1] != '0';
}

/* Magnitudes of two canonical texts without sign. */
static int cmp_abs(const char *a, const char *b)
{
    size_t ia = strcspn(a, "."), ib = strcspn(b, ".");
    if (ia != ib) return ia < ib ? -1 : 1;
    int c = memcmp(a, b, ia);
    if (c) return c < 0 ? -1 : 1;
    const char *fa = a[ia] ? a + ia + 1 : "", *fb = b[ib] ? b + ib + 1 : "";
    c = strcmp(fa, fb);
    return c < 0 ? -1 : c > 0;
}

int sfv_num_cmp(const char *a, const char *b)
{
    bool na = *a == '-', nb = *b == '-';
    if (na != nb) return na ? -1 : 1;
    int c = cmp_abs(a + na, b + nb);
    return na ? -c : c;
}

bool sfv_num_is_int(const char *canon)
{
    return strchr(canon, '.') == NULL;
}

int sfv_num_to_int64(const char *canon, int64_t *out)
{
    if (!sfv_num_is_int(canon) || strlen(canon) > 20) return -1;
    errno = 0;
    char *end;
    long long v = strtoll(canon, &end, 10);
    if (errno || *end) return -1;
    *out = (int64_t)v;
    return 0;
}

/* Go's big.Float.Text('f', -1) of a float64 (go-cty's NumberFloatVal): the
 * shortest decimal within half an ulp of |d| at 53 bits of precision, the
 * interval symmetric and unbounded in exponent (math/big roundShortest),
 * bounds included when the mantissa is even; the nearest candidate of each
 * length is tried.  For normal doubles that are not powers of two this is
 * the usual shortest round-trip text; subnormals and powers of two differ
 * (5e-324 is "4.940656458412465e-324").  The interval is computed in long
 * double, which holds it exactly where it has >= 55 mantissa bits. */
static void shortest_e(double d, char *buf, size_t size)
{
    assert(d > 0);
#if LDBL_MANT_DIG >= 55
    int e;
    double m = frexp(d, &e);
    bool even = ((uint64_t)ldexp(m, 53) & 1) == 0;
    long double x = d, h = ldexpl(1.0L, e - 54);
    long double lo = x - h, hi = x + h;
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*e", prec - 1, d);
        long double c = strtold(buf, NULL);
        if (even ? (c >= lo && c <= hi) : (c > lo && c < hi)) return;
    }
#else
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*e", prec - 1, d);
        if (strtod(buf, NULL) == d) return;
    }
#endif
}

char *sfv_num_from_double(double d)
{
    assert(isfinite(d));
    if (d == 0 || !isfinite(d)) return sf_strdup("0");
    char buf[48];
    buf[0] = '-';
    shortest_e(fabs(d), buf + 1, sizeof buf - 1);
    const char *text = d < 0 ? buf : buf + 1, *why;
    char *c = sfv_num_canon(text, strlen(text), &why);
    assert(c); /* at most 330 digits for any double */
    return c;
}

/* Decimal fraction digits of d's exact value (0 for integers). */
static long fraction_digits(double d)
{
    int e;
    double m = frexp(fabs(d), &e); /* d = m * 2^e, m in [0.5, 1) */
    uint64_t mant = (uint64_t)ldexp(m, 53);
    long exp2 = (long)e - 53;
    while (mant && !(mant & 1)) mant >>= 1, exp2++;
    return exp2 >= 0 ? 0 : -exp2;
}

bool sfv_num_exact_double(const char *canon, double *out)
{
    const char *dot = strchr(canon, '.');
    if (!dot) return false;
    double d = strtod(canon, NULL);
    if (!isfinite(d) || d == 0) return false;
    long k = (long)strlen(dot + 1);
    if (fraction_digits(d) != k) return false;
    /* The exact expansion must be the text, and the text the shortest
     * form of d, so that decoding the float64 gives this text back. */
    size_t size = (size_t)k + 340;
    char *buf = sfv_malloc(size);
    snprintf(buf, size, "%.*f", (int)k, d);
    bool exact = strcmp(buf, canon) == 0;
    free(buf);
    if (exact) {
        char *s = sfv_num_from_double(d);
        exact = strcmp(s, canon) == 0;
        free(s);
    }
    if (exact) *out = d;
    return exact;
}

/* go-cty hashes set elements with big.Float.String() = Text('g', 10):
 * round to 10 significant digits (half to even only on an exact half),
 * then %e when the exponent is < -4 or >= the digits kept, else %f. */
void sfv_num_hash_text(const char *canon, sfv_buf *out)
{
    if (*canon == '-') {
        sfv_buf_putc(out, '-');
        canon++;
    }
    if (strcmp(canon, "0") == 0) {
        sfv_buf_putc(out, '0');
        return;
    }
    /* mant digits and exp with value = 0.mant * 10^exp */
    size_t ni = strcspn(canon, ".");
    const char *frac = canon[ni] ? canon + ni + 1 : "";
    char mant[16];
    size_t nm = 0;
    long exp;
    const char *src;
    size_t srclen;
    sfv_buf all = {0};
    if (!(ni == 1 && canon[0] == '0')) {
        exp = (long)ni;
        sfv_buf_put(&all, canon, ni);
        sfv_buf_puts(&all, frac);
    } else {
        size_t z = strspn(frac, "0");
        exp = -(long)z;
        sfv_buf_puts(&all, frac + z);
    }
    src = all.p;
    srclen = all.len;
    while (srclen > 0 && src[srclen - 1] == '0') srclen--;
    const int prec = 10;
    if (srclen > (size_t)prec) {
        bool up = src[prec] > '5' || (src[prec] == '5' && (srclen > (size_t)prec + 1 || ((src[prec - 1] - '0') & 1)));
        nm = prec;
        memcpy(mant, src, nm);
        if (up) {
            while (nm > 0 && mant[nm - 1] == '9') nm--;
            if (nm == 0) {
                mant[0] = '1';
                nm = 1;
                exp++;
            } else {
                mant[nm - 1]++;
            }
        }
        while (nm > 0 && mant[nm - 1] == '0') nm--;
    } else {
        nm = srclen;
        memcpy(mant, src, nm);
    }
    sfv_buf_free(&all);
    long eprec = prec;
    if (eprec > (long)nm && (long)nm >= exp) eprec = (long)nm;
    long e10 = exp - 1;
    if (e10 < -4 || e10 >= eprec) {
        long p = prec > (long)nm ? (long)nm : prec;
        sfv_buf_putc(out, mant[0]);
        if (p - 1 > 0) {
            sfv_buf_putc(out, '.');
            for (long i = 1; i <= p - 1; i++) sfv_buf_putc(out, i < (long)nm ? mant[i] : '0');
        }
        sfv_buf_printf(out, "e%c%02ld", e10 < 0 ? '-' : '+', e10 < 0 ? -e10 : e10);
        return;
    }
    long p = prec > exp ? (long)nm : prec;
    long fdig = p - exp > 0 ? p - exp : 0;
    if (exp > 0) {
        for (long i = 0; i < exp; i++) sfv_buf_putc(out, i < (long)nm ? mant[i] : '0');
    } else {
        sfv_buf_putc(out, '0');
    }
    if (fdig > 0) {
        sfv_buf_putc(out, '.');
        for (long i = 0; i < fdig; i++) {
            long at = exp + i;
            sfv_buf_putc(out, at >= 0 && at < (long)nm ? mant[at] : '0');
        }
    }
}
