#!/bin/sh
# man-page.sh BINARY NAME SUMMARY OUT: a man page (gzip'd) made from BINARY --help, so
# the page and the program never disagree.
set -eu
bin=$1 name=$2 summary=$3 out=$4
version=$("$bin" --version 2>/dev/null | head -1)
upper=$(printf '%s' "$name" | tr 'a-z-' 'A-Z-')
{
  printf '.TH %s 1 "" "%s" "gongji"\n' "$upper" "$version"
  printf '.SH NAME\n%s \\- %s\n' "$name" "$summary"
  printf '.SH DESCRIPTION\n.nf\n'
  # Backslashes doubled; a line starting with . or ' is text, not a request.
  "$bin" --help | sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
  printf '.fi\n.SH SEE ALSO\nThe documentation in /usr/share/doc/gongji/.\n'
} | gzip -9n > "$out"
