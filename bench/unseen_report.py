#!/usr/bin/env python3
"""unseen_report.py: abusedesk's bounce parser and Sisimai on bounces kept OUT of the
repository, against the expectations of each sample's own source.

DIR holds one folder per source; each folder holds the sample files and an
EXPECTED.tsv with the columns (header line first, tab separated):

  file        sample file name inside the folder
  action      failed | delayed: what the source's own tests say the bounce is;
              "delayed" means a warning with no failed recipient
  recipients  comma-separated failed recipients the source's tests expect (empty
              for delayed)
  status      expected enhanced status code where the source states one (optional)
  reason      expected reason (Sisimai's names) where the source states one (optional)
  note        free text (ignored); a note starting with "skip:" leaves the row out

Both parsers are run on every file (abusedesk: `abusedesk parse`; Sisimai through
perl, in one process). Printed per source and for all sources, for each parser:

  found    files whose every expected recipient is reported as failed (delayed
           files: no recipient reported as failed)
  rs       recipient + status rows: an expected recipient reported with the stated
           status (or, without one, reported as failed); a delayed file counts as
           one row, right when nothing is reported as failed
  reason   rows with a stated reason that agree (a recipient not found counts as a
           disagreement); where no source states a reason,
           the agreement of abusedesk's reason with Sisimai's on the recipients
           both found (printed once, as "reason vs Sisimai")
  right    files fully right: found, every row right, and no failed recipient
           beyond the expected ones

Addresses compare case-insensitively. Nothing here is public data: the samples
stay outside the repository.

--half dev|held-out keeps one half of the rows, chosen by a hash of
"<source>/<file>" (first byte of its SHA-256 even: dev): rules are written
looking at the dev half only, and the held-out half shows what they do on mail
nobody tuned on.

usage: python3 bench/unseen_report.py [--verbose] [--abusedesk PATH]
                                      [--half dev|held-out] DIR
Exit status: 0 printed, 1 a parser could not run, 64 usage error.
"""
import hashlib
import json
import os
import subprocess
import sys

SISIMAI_PL = r'''
use strict; use warnings; use Sisimai; use JSON::PP;
my $js = JSON::PP->new->canonical;
while (my $f = <STDIN>) {
    chomp $f;
    my $d = do { local $/; open(my $fh, '<:raw', $f) or die "$f: $!"; <$fh> };
    my $r = eval { Sisimai->make(\$d, 'delivered' => 1) } || [];
    my @o = map { { recipient => $_->recipient->address, status => $_->deliverystatus,
                    reason => $_->reason, action => $_->action } } @$r;
    print $js->encode({ file => $f, recipients => \@o }), "\n";
}
'''


def in_half(source, fname, half):
    """True when the row belongs to half (None: both halves)."""
    if half is None:
        return True
    dev = hashlib.sha256(('%s/%s' % (source, fname)).encode()).digest()[0] % 2 == 0
    return dev if half == 'dev' else not dev


def load_expected(srcdir, half=None):
    rows = []
    with open(os.path.join(srcdir, 'EXPECTED.tsv'), encoding='utf-8') as fh:
        header = fh.readline().rstrip('\n').split('\t')
        for line in fh:
            if not line.strip():
                continue
            cols = line.rstrip('\n').split('\t')
            cols += [''] * (len(header) - len(cols))
            row = dict(zip(header, cols))
            if row.get('note', '').startswith('skip:'):
                continue
            if not in_half(os.path.basename(os.path.normpath(srcdir)), row['file'], half):
                continue
            row['recipients'] = [a.strip().lower() for a in row['recipients'].split(',')
                                 if a.strip()]
            rows.append(row)
    return rows


def run_abusedesk(binary, files):
    out = {}
    for i in range(0, len(files), 200):
        chunk = files[i:i + 200]
        p = subprocess.run([binary, 'parse'] + chunk, capture_output=True, text=True)
        for line in p.stdout.splitlines():
            try:
                j = json.loads(line)
            except ValueError:
                continue
            recs = []
            for r in j.get('recipients') or []:
                recs.append({'recipient': (r.get('final_recipient') or '').lower(),
                             'original': (r.get('original_recipient') or '').lower(),
                             'status': r.get('status') or '', 'reason': r.get('reason') or '',
                             'action': r.get('action') or ''})
            out[j.get('file')] = recs
    return out


def run_sisimai(files):
    p = subprocess.run(['perl', '-e', SISIMAI_PL], input='\n'.join(files) + '\n',
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        raise SystemExit(1)
    out = {}
    for line in p.stdout.splitlines():
        j = json.loads(line)
        out[j['file']] = [{'recipient': (r['recipient'] or '').lower(), 'original': '',
                           'status': r['status'] or '', 'reason': r['reason'] or '',
                           'action': r['action'] or ''} for r in j['recipients']]
    return out


def is_failed(r):
    """A reported recipient counts as failed when its action says so (RFC 3464: the
    MTA gave up, whatever the status class); without an action, when its status is
    not 2.x.x or 4.x.x."""
    a = r['action'].lower()
    if a:
        return a == 'failed'
    return r['status'][:1] not in ('2', '4')


def find(recs, addr):
    for r in recs:
        if r['recipient'] == addr or (r['original'] and r['original'] == addr):
            return r
    return None


def score(rows, results, folder, verbose, name):
    t = {'files': 0, 'found': 0, 'rs_ok': 0, 'rs_n': 0, 'rsn_ok': 0, 'rsn_n': 0,
         'right': 0}
    for row in rows:
        path = os.path.join(folder, row['file'])
        recs = results.get(path, [])
        failed = [r for r in recs if is_failed(r)]
        t['files'] += 1
        ok_found = True
        ok_all = True
        if row['action'] == 'delayed':
            good = not failed
            t['rs_n'] += 1
            t['rs_ok'] += good
            ok_found = ok_all = good
        else:
            for addr in row['recipients']:
                r = find(failed, addr)
                t['rs_n'] += 1
                if r is None:
                    ok_found = ok_all = False
                    t['rsn_n'] += bool(row.get('reason'))
                    continue
                good = (r['status'] == row['status']) if row.get('status') else True
                t['rs_ok'] += good
                ok_all = ok_all and good
                if row.get('reason'):
                    t['rsn_n'] += 1
                    t['rsn_ok'] += r['reason'] == row['reason']
                    ok_all = ok_all and r['reason'] == row['reason']
            extra = [r for r in failed if r['recipient'] not in row['recipients']
                     and r['original'] not in row['recipients']]
            if extra:
                ok_all = False
        t['found'] += ok_found
        t['right'] += ok_all
        if verbose and not ok_all:
            got = ', '.join('%s %s %s %s' % (r['recipient'], r['action'], r['status'],
                                             r['reason']) for r in recs) or '-'
            print('  %-9s %s/%s: expected %s %s; got %s' % (
                name, os.path.basename(folder), row['file'], row['action'],
                ','.join(row['recipients']) or '-', got))
    return t


def pct(a, b):
    return '%5.1f%% (%d/%d)' % (100.0 * a / b, a, b) if b else '    -'


def main(argv):
    verbose = False
    binary = None
    half = None
    args = []
    i = 0
    while i < len(argv):
        if argv[i] == '--verbose':
            verbose = True
        elif argv[i] == '--abusedesk' and i + 1 < len(argv):
            binary = argv[i + 1]
            i += 1
        elif argv[i] == '--half' and i + 1 < len(argv) and argv[i + 1] in ('dev', 'held-out'):
            half = argv[i + 1]
            i += 1
        else:
            args.append(argv[i])
        i += 1
    if len(args) != 1 or not os.path.isdir(args[0]):
        sys.stderr.write('usage: python3 bench/unseen_report.py [--verbose] '
                         '[--abusedesk PATH] [--half dev|held-out] DIR\n')
        return 64
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    binary = binary or os.environ.get('AD_BINARY') or os.path.join(root, 'build', 'abusedesk')
    if not os.access(binary, os.X_OK):
        sys.stderr.write('unseen_report: %s: not executable (build it or pass --abusedesk)\n'
                         % binary)
        return 1
    base = args[0]
    sources = sorted(d for d in os.listdir(base)
                     if os.path.isfile(os.path.join(base, d, 'EXPECTED.tsv')))
    if not sources:
        sys.stderr.write('unseen_report: no <source>/EXPECTED.tsv below %s\n' % base)
        return 64
    allrows = {s: load_expected(os.path.join(base, s), half) for s in sources}
    files = [os.path.join(base, s, r['file']) for s in sources for r in allrows[s]]
    ad = run_abusedesk(binary, files)
    ss = run_sisimai(files)
    totals = {'abusedesk': {}, 'sisimai': {}}
    agree = [0, 0]
    for s in sources:
        folder = os.path.join(base, s)
        print('%s (%d files)' % (s, len(allrows[s])))
        for name, res in (('abusedesk', ad), ('sisimai', ss)):
            t = score(allrows[s], res, folder, verbose, name)
            for k, v in t.items():
                totals[name][k] = totals[name].get(k, 0) + v
            print('  %-9s found %s  rcpt+status %s  reason %s  right %s' % (
                name, pct(t['found'], t['files']), pct(t['rs_ok'], t['rs_n']),
                pct(t['rsn_ok'], t['rsn_n']), pct(t['right'], t['files'])))
        for row in allrows[s]:
            path = os.path.join(folder, row['file'])
            for addr in row['recipients']:
                a = find([r for r in ad.get(path, []) if is_failed(r)], addr)
                b = find([r for r in ss.get(path, []) if is_failed(r)], addr)
                if a and b:
                    agree[1] += 1
                    agree[0] += a['reason'] == b['reason']
                    if verbose and a['reason'] != b['reason']:
                        print('  reason    %s/%s %s: abusedesk %s, sisimai %s' % (
                            s, row['file'], addr, a['reason'], b['reason']))
    print('all (%d files)' % len(files))
    for name in ('abusedesk', 'sisimai'):
        t = totals[name]
        print('  %-9s found %s  rcpt+status %s  reason %s  right %s' % (
            name, pct(t['found'], t['files']), pct(t['rs_ok'], t['rs_n']),
            pct(t['rsn_ok'], t['rsn_n']), pct(t['right'], t['files'])))
    print('  reason vs Sisimai (recipients both found): %s' % pct(agree[0], agree[1]))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
