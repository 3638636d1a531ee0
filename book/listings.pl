#!/usr/bin/env perl
# An mdBook preprocessor that checks the book's code listings
# (see book.toml):
#
#   perl listings.pl check   runs before mdBook's `links` preprocessor. Every
#                            {{#include FILE:ANCHOR}} must name a file that
#                            exists and an anchor it opens and closes, with
#                            something between. mdBook itself silently
#                            includes nothing for a missing anchor, and
#                            would accept a line range, which goes stale
#                            as soon as the code above it changes.
#                            Listings come from chapters/, the starters,
#                            never from solutions/: a student copy has no
#                            solutions/, and the book must not show the
#                            answers (where a listing holds a learner's
#                            part, the starter's todo!() is what it shows).
#
# mdBook first asks `perl listings.pl MODE supports RENDERER` (any renderer
# will do), then sends `[context, book]` as JSON on stdin and expects the
# book back on stdout. Only core Perl modules are used.
use strict;
use warnings;
use JSON::PP;
use File::Spec;
use File::Basename qw(dirname);

my $mode = shift @ARGV // '';
die "usage: listings.pl check [supports RENDERER]\n" unless $mode eq 'check';
exit 0 if @ARGV && $ARGV[0] eq 'supports';

binmode STDIN;
binmode STDOUT;
my $input = do { local $/; <STDIN> };
my $json = JSON::PP->new->utf8->allow_nonref;
my ($ctx, $book) = @{ $json->decode($input) };

my $src = File::Spec->catdir($ctx->{root}, $ctx->{config}{book}{src} // 'src');
my @errors;

# Visits every chapter (any object with `content` and `sub_items`).
sub walk {
    my ($node, $visit) = @_;
    if (ref $node eq 'HASH') {
        $visit->($node) if exists $node->{content} && exists $node->{sub_items};
        walk($_, $visit) for values %$node;
    } elsif (ref $node eq 'ARRAY') {
        walk($_, $visit) for @$node;
    }
}

sub check_chapter {
    my ($chapter) = @_;
    my $page = $chapter->{path} // $chapter->{name};
    my $dir = File::Spec->catdir($src, dirname($chapter->{path} // '.'));
    while ($chapter->{content} =~ /(\\?)\{\{#(include|rustdoc_include)\s+([^}\s]+)\s*\}\}/g) {
        next if $1;    # an escaped, literal {{#include}}
        my $target = $3;
        my ($file, $anchor) = $target =~ /^([^:]+)(?::(.*))?$/;
        if ($file =~ m{(^|/)solutions/}) {
            push @errors, "$page: {{#include $target}} reads solutions/: include the starter's file from chapters/ (the book never shows the answers)";
            next;
        }
        if (!defined $anchor || $anchor eq '') {
            # A whole data file (a config.json, a script) is fine; a whole
            # source file is too much to read in a book, so name a part.
            push @errors, "$page: {{#include $target}} includes a whole Rust file: name an anchor (FILE:ANCHOR)"
                if $file =~ /\.rs$/;
            next;
        }
        if ($anchor =~ /^[\d:]+$/ || $anchor =~ /^:/) {
            push @errors, "$page: {{#include $target}} uses a line range: name an anchor instead";
            next;
        }
        my $path = File::Spec->catfile($dir, $file);
        open my $fh, '<', $path or do {
            push @errors, "$page: {{#include $target}}: cannot read $path: $!";
            next;
        };
        my ($open, $close, $body) = (0, 0, 0);
        while (my $line = <$fh>) {
            if ($line =~ /ANCHOR_END:\s*([\w-]+)/) {
                $close = 1 if $1 eq $anchor && $open && !$close;
            } elsif ($line =~ /ANCHOR:\s*([\w-]+)/) {
                $open = 1 if $1 eq $anchor;
            } elsif ($open && !$close && $line =~ /\S/) {
                $body = 1;
            }
        }
        close $fh;
        if (!$open) {
            push @errors, "$page: {{#include $target}}: $file has no `ANCHOR: $anchor`";
        } elsif (!$close) {
            push @errors, "$page: {{#include $target}}: $file has no `ANCHOR_END: $anchor` after its `ANCHOR: $anchor`";
        } elsif (!$body) {
            push @errors, "$page: {{#include $target}}: the anchor is empty";
        }
    }
}

walk($book, \&check_chapter);
if (@errors) {
    print STDERR "listings.pl: $_\n" for @errors;
    exit 1;
}
print $json->encode($book);
