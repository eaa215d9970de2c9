#!/bin/sh
# Writes the package's copyright file to stdout: quietzone's own notice and
# the licence of every Go module linked into /usr/bin/quietzone, from the
# module cache (the build has just downloaded them). Run from the module root.
set -eu
go=${GO:-go}
cat <<'HEAD'
quietzone — in-vehicle privacy gateway

Copyright: the quietzone developers <dev@quietzone.invalid>
License: none granted yet. quietzone's own source is not released under
 a licence: no rights are granted beyond using this package on the vehicles
 it was supplied for.

/usr/bin/quietzone is a static Go binary: it contains the Go standard
library and the modules below, each under its own licence, reproduced in
full after the list.
HEAD
mods=$(CGO_ENABLED=0 $go list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}}|{{.Version}}|{{.Dir}}{{end}}{{end}}' ./cmd/quietzone | sort -u)
goroot=$($go env GOROOT)
echo
echo " - the Go standard library, $($go env GOVERSION)"
for m in $mods; do
	echo " - $(echo "$m" | cut -d'|' -f1) $(echo "$m" | cut -d'|' -f2)"
done
licence() {
	for f in LICENSE LICENSE.md LICENSE.txt LICENCE COPYING LICENSE-APACHE epl-v20.html edl-v10; do
		[ -f "$1/$f" ] && { echo "$1/$f"; return 0; }
	done
	return 0
}
show() {
	echo
	echo "-------------------------------------------------------------------------------"
	echo "$1"
	echo
	# Debian ships the Apache licence once, in common-licenses: refer to it
	# (lintian: copyright-file-contains-full-apache-2-license).
	if grep -q 'Apache License' "$2" && grep -q 'Version 2.0, January 2004' "$2"; then
		echo "Licensed under the Apache License, Version 2.0. On Debian systems its"
		echo "full text is in /usr/share/common-licenses/Apache-2.0."
		return 0
	fi
	sed -e 's/\r$//' "$2"
}
show "The Go standard library ($($go env GOVERSION))" "$goroot/LICENSE"
for m in $mods; do
	path=$(echo "$m" | cut -d'|' -f1)
	dir=$(echo "$m" | cut -d'|' -f3)
	f=$(licence "$dir")
	[ -n "$f" ] || { echo "copyright.sh: no licence file in $dir ($path)" >&2; exit 1; }
	show "$path" "$f"
	for n in NOTICE NOTICE.md NOTICE.txt; do
		[ -f "$dir/$n" ] && show "$path: $n" "$dir/$n"
	done
done
exit 0
