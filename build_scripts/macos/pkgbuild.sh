#!/bin/sh
# Build a macOS installer package (.pkg) for IT rollout from a stamped module (.app).
#
# ON PAPER: this recipe needs macOS (pkgbuild, productbuild, PlistBuddy, and for signing
# codesign, productsign and xcrun notarytool). It is checked with shellcheck but has not run
# on a Mac; build_scripts/README.md says what to check on the first real run.
#
# Usage:
#   build_scripts/macos/pkgbuild.sh [options] "Acme-Help.app"
#
# Options:
#   --name NAME               the product name, as in the module's brand (default: the app's
#                             file name without .app); the app is installed as
#                             "/Applications/NAME.app"
#   --version X.Y.Z           the package version (default 1.0.0); raise it for every rollout
#   --identifier ID           the package id (default org.sosqueue.<name as a slug>)
#   --autostart               start the agent in the menu bar at every login, for every user
#   --no-desktop-shortcut     no SOS button on the users' desktops
#   --sign-app IDENTITY       sign the app first, e.g. "Developer ID Application: Acme (TEAMID)"
#   --sign-installer IDENTITY sign the package, e.g. "Developer ID Installer: Acme (TEAMID)"
#   --notarize PROFILE        notarise and staple with a notarytool keychain profile (made once
#                             with: xcrun notarytool store-credentials PROFILE ...)
#   --out DIR                 where the .pkg goes (default: the current folder)
#
# What the package installs:
#   /Applications/NAME.app                              the module, as stamped
#   /Library/Application Support/sosqueue/<slug>/       uninstall.sh and its settings
#   /Library/LaunchAgents/<id>.login.plist              with --autostart: the tray at login
# and its postinstall script runs "NAME.app --install" as every existing user (uid >= 501),
# which puts the SOS button on their desktop the way the agent itself does it (and records it,
# so that "--uninstall" removes exactly that). Users created later get it the first time they
# open the app, or at their first login with --autostart.
#
# Install silently:   sudo installer -pkg "Acme-Help-1.2.3.pkg" -target /
# Remove:             sudo "/Library/Application Support/sosqueue/<slug>/uninstall.sh"
set -eu

here=$(cd "$(dirname "$0")" && pwd)
name=""
version="1.0.0"
identifier=""
autostart=0
desktop_shortcut=1
sign_app=""
sign_installer=""
notarize=""
out="."

die() {
    printf 'pkgbuild.sh: %s\n' "$*" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
        --name) name=${2:?--name needs a value}; shift 2 ;;
        --version) version=${2:?--version needs a value}; shift 2 ;;
        --identifier) identifier=${2:?--identifier needs a value}; shift 2 ;;
        --autostart) autostart=1; shift ;;
        --no-desktop-shortcut) desktop_shortcut=0; shift ;;
        --sign-app) sign_app=${2:?--sign-app needs an identity}; shift 2 ;;
        --sign-installer) sign_installer=${2:?--sign-installer needs an identity}; shift 2 ;;
        --notarize) notarize=${2:?--notarize needs a keychain profile}; shift 2 ;;
        --out) out=${2:?--out needs a folder}; shift 2 ;;
        -h|--help) sed -n '2,35p' "$0"; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) break ;;
    esac
done
[ $# -eq 1 ] || die "pass exactly one stamped module .app (see --help)"
app=${1%/}
[ -d "$app/Contents/MacOS" ] || die "$app is not a macOS .app bundle"
[ -f "$app/Contents/Resources/sosqueue-module.bin" ] || die "$app carries no module; stamp it with: sosqueue build"
printf '%s\n' "$version" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+$' || die "version $version is not X.Y.Z"
if [ -n "$notarize" ] && [ -z "$sign_installer" ]; then
    die "--notarize needs --sign-installer (Apple notarises signed packages only)"
fi

[ -n "$name" ] || name=$(basename "$app" .app)
slug=$(printf '%s' "$name" | tr '[:upper:]' '[:lower:]' | tr -cs 'a-z0-9' '-' | sed 's/^-*//; s/-*$//')
[ -n "$slug" ] || slug=support
[ -n "$identifier" ] || identifier="org.sosqueue.$slug"
executable=$(/usr/libexec/PlistBuddy -c 'Print :CFBundleExecutable' "$app/Contents/Info.plist")
support_dir="/Library/Application Support/sosqueue/$slug"
login_label="$identifier.login"
package="$out/$(printf '%s' "$name" | tr -cs 'A-Za-z0-9._-' '-')-$version.pkg"

work=$(mktemp -d "${TMPDIR:-/tmp}/sosqueue-pkg.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
root="$work/root"
scripts="$work/scripts"
mkdir -p "$root/Applications" "$root$support_dir" "$scripts"

# ditto keeps the bundle's symlinks, permissions and extended attributes.
ditto "$app" "$root/Applications/$name.app"
if [ -n "$sign_app" ]; then
    codesign --force --deep --options runtime --timestamp --sign "$sign_app" "$root/Applications/$name.app"
fi

# The settings postinstall and uninstall.sh read (sh syntax: every value single-quoted).
quote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}
{
    printf 'APP_NAME=%s\n' "$(quote "$name")"
    printf 'EXECUTABLE=%s\n' "$(quote "$executable")"
    printf 'IDENTIFIER=%s\n' "$(quote "$identifier")"
    printf 'LOGIN_LABEL=%s\n' "$(quote "$login_label")"
    printf 'SUPPORT_DIR=%s\n' "$(quote "$support_dir")"
    printf 'DESKTOP_SHORTCUT=%s\n' "$desktop_shortcut"
} > "$work/sosqueue-pkg.conf"
cp "$work/sosqueue-pkg.conf" "$scripts/sosqueue-pkg.conf"
cp "$work/sosqueue-pkg.conf" "$root$support_dir/sosqueue-pkg.conf"
cp "$here/scripts/postinstall" "$scripts/postinstall"
cp "$here/uninstall.sh" "$root$support_dir/uninstall.sh"
chmod 0755 "$scripts/postinstall" "$root$support_dir/uninstall.sh"

if [ "$autostart" = 1 ]; then
    mkdir -p "$root/Library/LaunchAgents"
    plist="$root/Library/LaunchAgents/$login_label.plist"
    /usr/libexec/PlistBuddy \
        -c "Add :Label string $login_label" \
        -c "Add :ProgramArguments array" \
        -c "Add :ProgramArguments:0 string /Applications/$name.app/Contents/MacOS/$executable" \
        -c "Add :ProgramArguments:1 string --tray" \
        -c "Add :RunAtLoad bool true" \
        -c "Add :ProcessType string Interactive" \
        -c "Add :LimitLoadToSessionType string Aqua" \
        "$plist"
    chmod 0644 "$plist"
fi

# The component package: the file tree and postinstall. Not relocatable, so that an older
# copy of the app elsewhere on the disk is never "upgraded" in place of /Applications.
pkgbuild --analyze --root "$root" "$work/components.plist"
/usr/libexec/PlistBuddy -c 'Set :0:BundleIsRelocatable false' "$work/components.plist"
pkgbuild --root "$root" --component-plist "$work/components.plist" --scripts "$scripts" \
    --identifier "$identifier" --version "$version" --install-location / "$work/component.pkg"

# The product archive: title, one choice, and the distribution's checks (distribution.xml).
# Text for distribution.xml, escaped for XML and then for sed's replacement side.
xml() {
    printf '%s' "$1" | sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g; s/"/\&quot;/g' | sed 's/[|&\\]/\\&/g'
}
sed -e "s|@TITLE@|$(xml "$name")|g" \
    -e "s|@IDENTIFIER@|$(xml "$identifier")|g" \
    -e "s|@VERSION@|$version|g" \
    -e "s|@COMPONENT@|component.pkg|g" \
    "$here/distribution.xml" > "$work/distribution.xml"
mkdir -p "$out"
unsigned="$work/product.pkg"
productbuild --distribution "$work/distribution.xml" --package-path "$work" "$unsigned"

if [ -n "$sign_installer" ]; then
    productsign --timestamp --sign "$sign_installer" "$unsigned" "$work/signed.pkg"
    unsigned="$work/signed.pkg"
fi
if [ -n "$notarize" ]; then
    xcrun notarytool submit "$unsigned" --keychain-profile "$notarize" --wait
    xcrun stapler staple "$unsigned"
fi
mv -f "$unsigned" "$package"
printf '%s\n' "$package"
