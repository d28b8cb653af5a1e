#!/bin/bash
# tests/dkim/make_fixtures.sh OUTDIR: generates, at test time, the DKIM keys,
# signed messages and DNS records that src/trust/dkimverify_test.c verifies.
# Nothing here is committed: the private keys exist only in OUTDIR (mode 0600).
#
# Keys: 1024-bit RSA made with openssl (a 1024-bit key record fits in the one
# 255-byte TXT string that rbldnsd serves, see tests/lib/dns.sh). Signatures:
# dkimsign from python3-dkim (dkimpy), an implementation independent of the
# libopendkim under test; rsa-sha256, relaxed/simple unless said otherwise,
# and it keeps the line endings of its input (LF in, LF out; CRLF in, CRLF
# out). opendkim-testmsg is not used: it signs only rsa-sha1, rejects CRLF
# input and, in 2.11.0~beta2, appends a stray fragment to the b= value.
#
# Writes into OUTDIR:
#   records          the DNS data, one "NAME<TAB>TEXT" line per TXT record
#   good-lf.eml      sel1@example.org, LF line endings
#   good-crlf.eml    sel1@example.org, CRLF line endings
#   good-relaxed.eml sel1@example.org, c=relaxed/relaxed, body with trailing
#                    blanks and empty lines at the end
#   good-simple.eml  sel1@example.org, c=simple/simple
#   body-modified.eml   good-lf.eml with one body line changed after signing
#   header-modified.eml good-lf.eml with the Subject changed after signing
#   nokey.eml        signed for nokey@example.org, which has no key record
#   revoked.eml      signed for revoked@example.org, whose record has "p="
#   notakey.eml      signed for notakey@example.org, whose TXT is not a key
#   wrongkey.eml     signed for sel2@example.net with a key other than the
#                    published one
#   two-sigs.eml     good-lf.eml signed again as wrongkey.eml was: the top
#                    signature fails, the bottom one passes
#   unsigned.eml     no DKIM-Signature at all
#
# Exits 2 with a message naming the package when a tool is missing, 1 when a
# step fails.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: make_fixtures.sh OUTDIR" >&2
  exit 2
fi
out=$1

need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "make_fixtures.sh: missing tool '$1' (install: $2)" >&2
    exit 2
  fi
}
need openssl "apt-get install openssl"
need dkimsign "apt-get install python3-dkim"
need base64 "coreutils"

umask 077
mkdir -p "$out"

# genkey NAME: writes $out/NAME.pem (PKCS#1, which every dkimpy reads) and
# prints the base64 of the DER public key, the p= of its DNS record.
genkey() {
  local pem=$out/$1.pem
  # OpenSSL 3 writes PKCS#8 unless told -traditional; 1.1 has no such option
  # and writes PKCS#1 anyway.
  openssl genrsa -traditional -out "$pem" 1024 2>/dev/null ||
    openssl genrsa -out "$pem" 1024 2>/dev/null
  openssl rsa -in "$pem" -pubout -outform DER 2>/dev/null | base64 -w0
}

# sign SELECTOR DOMAIN KEYNAME IN OUT [dkimsign options...]
sign() {
  local sel=$1 dom=$2 key=$3 in=$4 dst=$5
  shift 5
  dkimsign "$@" "$sel" "$dom" "$out/$key.pem" <"$in" >"$dst.tmp"
  if ! grep -q '^DKIM-Signature:' "$dst.tmp"; then
    echo "make_fixtures.sh: dkimsign produced no signature for $dst" >&2
    exit 1
  fi
  mv "$dst.tmp" "$dst"
}

p_sel1=$(genkey sel1)
p_sel2=$(genkey sel2)
genkey sel2-other >/dev/null
genkey nokey >/dev/null
genkey revoked >/dev/null
genkey notakey >/dev/null

{
  printf 'sel1._domainkey.example.org\tv=DKIM1; k=rsa; p=%s\n' "$p_sel1"
  printf 'sel2._domainkey.example.net\tv=DKIM1; k=rsa; p=%s\n' "$p_sel2"
  printf 'revoked._domainkey.example.org\tv=DKIM1; k=rsa; p=\n'
  printf 'notakey._domainkey.example.org\tthis is not a DKIM key record\n'
} >"$out/records"

cat >"$out/plain-lf.txt" <<'EOF'
From: Alice Example <alice@example.org>
To: Bob <bob@example.net>
Subject: DKIM test message
Date: Sun, 29 Nov 2026 10:00:00 +0000
Message-ID: <dkimverify-test-1@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Hello Bob,

this is a test of DKIM verification.
A line with a dot:
.
Bye.
EOF
cp "$out/plain-lf.txt" "$out/unsigned.eml"
sed 's/$/\r/' "$out/plain-lf.txt" >"$out/plain-crlf.txt"

# Trailing blanks and empty lines at the end: only relaxed body
# canonicalisation makes them disappear.
{
  sed -n '1,/^$/p' "$out/plain-lf.txt"
  printf 'Some   spaced    words\t \nand trailing blanks   \n\n\n'
} >"$out/plain-relaxed.txt"

sign sel1 example.org sel1 "$out/plain-lf.txt" "$out/good-lf.eml"
sign sel1 example.org sel1 "$out/plain-crlf.txt" "$out/good-crlf.eml"
sign sel1 example.org sel1 "$out/plain-relaxed.txt" "$out/good-relaxed.eml" \
  --hcanon relaxed --bcanon relaxed
sign sel1 example.org sel1 "$out/plain-lf.txt" "$out/good-simple.eml" \
  --hcanon simple --bcanon simple
sign nokey example.org nokey "$out/plain-lf.txt" "$out/nokey.eml"
sign revoked example.org revoked "$out/plain-lf.txt" "$out/revoked.eml"
sign notakey example.org notakey "$out/plain-lf.txt" "$out/notakey.eml"
sign sel2 example.net sel2-other "$out/plain-lf.txt" "$out/wrongkey.eml"
sign sel2 example.net sel2-other "$out/good-lf.eml" "$out/two-sigs.eml"

sed 's/^this is a test of DKIM verification\.$/this is a forged test./' \
  "$out/good-lf.eml" >"$out/body-modified.eml"
sed 's/^Subject: DKIM test message$/Subject: DKIM forged message/' \
  "$out/good-lf.eml" >"$out/header-modified.eml"
if cmp -s "$out/good-lf.eml" "$out/body-modified.eml" ||
  cmp -s "$out/good-lf.eml" "$out/header-modified.eml"; then
  echo "make_fixtures.sh: a modification did not apply" >&2
  exit 1
fi
rm -f "$out"/plain-*.txt
