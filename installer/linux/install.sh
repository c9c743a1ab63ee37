#!/bin/sh
# Install (or remove) a built Glimpse bundle for the current user, no pip needed:
#   ./install.sh [BUNDLE_DIR]        default BUNDLE_DIR: the folder beside this script
#   ./install.sh --uninstall
# Puts the app in ~/.local/opt/glimpse, `glimpse` and `glimpse-gui` in ~/.local/bin,
# and the desktop entry, AppStream metadata and icons under ~/.local/share, so
# Glimpse appears in the desktop's application menu.
# Why a script and not a distro package: one bundle works on any glibc Linux,
# and everything stays in the user's home (no root, clean removal).
set -eu
APP_ID=io.github.glimpse.Glimpse
PREFIX="${PREFIX:-$HOME/.local}"
DATA="${XDG_DATA_HOME:-$PREFIX/share}"
HERE="$(cd "$(dirname "$0")" && pwd)"

if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$PREFIX/opt/glimpse"
    rm -f "$PREFIX/bin/glimpse" "$PREFIX/bin/glimpse-gui"
    rm -f "$DATA/applications/$APP_ID.desktop" "$DATA/metainfo/$APP_ID.metainfo.xml"
    find "$DATA/icons/hicolor" -name "$APP_ID.png" -delete 2>/dev/null || true
    echo "Glimpse removed (your libraries and settings are kept)."
    exit 0
fi

BUNDLE="${1:-$HERE/glimpse}"
[ -x "$BUNDLE/glimpse-gui" ] || { echo "No Glimpse bundle at $BUNDLE (expected glimpse-gui there)." >&2; exit 1; }
RES="$HERE"; [ -f "$RES/$APP_ID.desktop" ] || RES="$BUNDLE/share"
ICONS="$HERE/icons"; [ -d "$ICONS" ] || ICONS="$HERE/../../resources/icons/app"

mkdir -p "$PREFIX/opt" "$PREFIX/bin" "$DATA/applications" "$DATA/metainfo"
rm -rf "$PREFIX/opt/glimpse"
cp -a "$BUNDLE" "$PREFIX/opt/glimpse"
ln -sf "$PREFIX/opt/glimpse/glimpse" "$PREFIX/bin/glimpse"
ln -sf "$PREFIX/opt/glimpse/glimpse-gui" "$PREFIX/bin/glimpse-gui"
# Absolute Exec path: ~/.local/bin is not on every desktop session's PATH.
sed "s|^Exec=glimpse-gui|Exec=$PREFIX/opt/glimpse/glimpse-gui|" "$RES/$APP_ID.desktop" \
    > "$DATA/applications/$APP_ID.desktop"
cp "$RES/$APP_ID.metainfo.xml" "$DATA/metainfo/"
for size in 16 24 32 48 64 128 256 512; do
    if [ -f "$ICONS/glimpse-$size.png" ]; then
        mkdir -p "$DATA/icons/hicolor/${size}x${size}/apps"
        cp "$ICONS/glimpse-$size.png" "$DATA/icons/hicolor/${size}x${size}/apps/$APP_ID.png"
    fi
done
command -v update-desktop-database >/dev/null && update-desktop-database "$DATA/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q "$DATA/icons/hicolor" || true
echo "Glimpse installed in $PREFIX/opt/glimpse; start it from the application menu or with glimpse-gui."
