/*
 * records.h: the SPF (RFC 7208) and DMARC (RFC 7489) records a domain
 * publishes in DNS, read from their TXT text into terms and tags. Pure
 * functions over untrusted text (anyone controls their own DNS): bounded
 * (RECORDS_MAX_TERMS terms, names of at most 253 bytes), never reading past
 * the string, with the first syntax problem named in `problem`. Used by the
 * domain audit (audit.c) and the fuzz target fuzz/fuzz_records.c.
 */
#ifndef AD_RECORDS_H
#define AD_RECORDS_H

#include <stdbool.h>
#include <stddef.h>

#define RECORDS_MAX_TERMS 64
#define RECORDS_MAX_NAME 253
#define RECORDS_MAX_RUA 8

enum spf_mech {
    SPF_ALL, SPF_INCLUDE, SPF_A, SPF_MX, SPF_PTR, SPF_IP4, SPF_IP6, SPF_EXISTS,
    SPF_REDIRECT,       /* modifier redirect= */
    SPF_EXP,            /* modifier exp= */
    SPF_OTHER_MOD,      /* an unknown modifier (ignored, RFC 7208 6) */
};

struct spf_term {
    enum spf_mech mech;
    char qual;                          /* '+', '-', '~', '?' */
    char domain[RECORDS_MAX_NAME + 1];  /* include/a/mx/ptr/exists/redirect target; "" = the current domain */
    bool has_macro;                     /* the domain-spec holds a '%' macro */
    unsigned char addr[16];             /* ip4 (IPv4-mapped) / ip6 */
    int cidr4, cidr6;                   /* prefix lengths: a, mx, ip4 (cidr4), ip6 (cidr6) */
};

struct spf_record {
    struct spf_term terms[RECORDS_MAX_TERMS];
    size_t n_terms;
    int redirect;                       /* index of redirect= in terms, -1 */
};

/* True when txt is an SPF record ("v=spf1" then a space or the end, any case). */
bool spf_is_record(const char *txt);

/* Parses an SPF record. Returns true when it is valid; otherwise false, with
 * the first problem in problem (NUL-terminated, cut to size) and the terms
 * read up to it in out. */
bool spf_parse(const char *txt, struct spf_record *out, char *problem, size_t size);

/* "+all", "include:x", ... of a term into buf. */
void spf_term_text(const struct spf_term *t, char *buf, size_t size);

struct dmarc_record {
    char p[16], sp[16];                 /* "" when absent */
    int pct;                            /* 100 when absent */
    char rua[RECORDS_MAX_RUA][RECORDS_MAX_NAME + 8]; /* mailto: addresses, lower case, "mailto:" removed */
    size_t n_rua;
    char adkim, aspf;                   /* 'r' or 's' */
};

/* True when txt is a DMARC record ("v=DMARC1" first, any case around it). */
bool dmarc_is_record(const char *txt);

/* Parses a DMARC record (tags separated by ';'). Returns true when it is
 * valid (v=DMARC1 first, p= present with none/quarantine/reject, pct 0..100);
 * otherwise false with the problem. */
bool dmarc_record_parse(const char *txt, struct dmarc_record *out, char *problem, size_t size);

#endif
