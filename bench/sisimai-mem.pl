#!/usr/bin/perl
# sisimai-mem.pl: Sisimai given the same work as build/parse_bench (bench/parse.sh):
# every *.eml file below DIR is read into memory once, then each pass hands every
# message to Sisimai->make() as a scalar reference (Sisimai::Mail's "memory"
# input), so neither side reads files while it is timed. Prints one line per pass
# in the format of parse_bench and shared/tools/sisimai-bench.pl ("PASS k ...",
# pass 0 cold; cpu_seconds and cpu_msgs_per_s give the pass's CPU time, user +
# system, as parse_bench does). Exit 2 when a file cannot be read, 64 on usage errors.
#
# usage: perl bench/sisimai-mem.pl DIR [PASSES]
use strict;
use warnings;
use File::Find;
use Time::HiRes qw(time);
use Sisimai;

my $dir = shift;
my $passes = shift // 3;
if (!defined $dir || !-d $dir || $passes !~ /\A\d+\z/) {
    print STDERR "usage: perl bench/sisimai-mem.pl DIR [PASSES]\n";
    exit 64;
}
my @files;
find({ wanted => sub { push @files, $File::Find::name if -f $_ && /\.eml\z/ }, no_chdir => 1 },
     $dir);
@files = sort @files;
my (@data, $bytes);
$bytes = 0;
for my $f (@files) {
    open(my $fh, '<:raw', $f) or do { print STDERR "sisimai-mem.pl: $f: $!\n"; exit 2 };
    local $/;
    my $d = <$fh>;
    close $fh;
    push @data, $d;
    $bytes += length $d;
}
printf "sisimai %s perl %vd files=%d bytes=%d input=memory\n", Sisimai->version, $^V,
    scalar @files, $bytes;
for my $pass (0 .. $passes) {
    my ($ok, $records) = (0, 0);
    my ($u0, $s0) = times;
    my $t0 = time;
    for my $i (0 .. $#data) {
        my $r = Sisimai->make(\$data[$i], 'delivered' => 1);
        next unless $r && @$r;
        $ok++;
        $records += scalar @$r;
    }
    my $dt = time - $t0;
    my ($u1, $s1) = times;
    my $dc = ($u1 - $u0) + ($s1 - $s0);
    $dc = 1e-9 if $dc <= 0;
    printf "PASS %d %s files=%d with_result=%d records=%d seconds=%.3f msgs_per_s=%.1f MB_per_s=%.3f"
        . " cpu_seconds=%.3f cpu_msgs_per_s=%.1f\n",
        $pass, $pass ? 'warm' : 'cold', scalar @files, $ok, $records, $dt, @files / $dt,
        $bytes / 1e6 / $dt, $dc, @files / $dc;
}
