#!/bin/sh
# Render isoaudit's executive page (reports/isoaudit-<week>.html) to a PNG with headless Chromium, to see it
# as a browser (and most mail clients) show it. Usage: scripts/render_page.sh PAGE.html [OUT.png] [WIDTHxHEIGHT]
# Needs Debian's chromium (apt-get install -y chromium). Nothing is fetched: the page has no remote content,
# and every background service of Chromium is off.
set -eu
page=${1:?usage: $0 PAGE.html [OUT.png] [WIDTHxHEIGHT]}
out=${2:-${page%.html}.png}
size=${3:-900x1400}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
    echo "render_page: no Chromium found (apt-get install -y chromium)" >&2
    exit 3
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" --window-size="$(echo "$size" | tr x ,)" \
    --screenshot="$out" "file://$(cd "$(dirname "$page")" && pwd)/$(basename "$page")" >/dev/null 2>&1
test -s "$out"
echo "$out"
