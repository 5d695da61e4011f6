#!/bin/sh
# Remove the macOS package of a support module (pkgbuild.sh installs this script with its
# settings under /Library/Application Support/sosqueue/<slug>/). Run it with sudo.
#
# ON PAPER: see build_scripts/README.md.
#
# macOS has no "uninstall" for packages: this removes each user's SOS button (the agent's own
# --uninstall, run as that user, removes exactly what it recorded), the login item, the app,
# this folder, and the package receipt.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$here/sosqueue-pkg.conf"
app="/Applications/$APP_NAME.app"
agent="$app/Contents/MacOS/$EXECUTABLE"

if [ "$(id -u)" != 0 ]; then
    echo "uninstall.sh: run it as root: sudo \"$0\"" >&2
    exit 1
fi

dscl . -list /Users UniqueID | while read -r user uid; do
    case $uid in ''|*[!0-9]*) continue ;; esac
    [ "$uid" -ge 501 ] || continue
    if [ -x "$agent" ]; then
        sudo -u "$user" -H "$agent" --uninstall < /dev/null || echo "uninstall.sh: could not clean up for $user" >&2
    fi
    launchctl bootout "gui/$uid/$LOGIN_LABEL" 2>/dev/null || true
done

rm -f "/Library/LaunchAgents/$LOGIN_LABEL.plist"
rm -rf "$app"
pkgutil --forget "$IDENTIFIER" > /dev/null 2>&1 || true
case $SUPPORT_DIR in
    "/Library/Application Support/sosqueue/"?*) rm -rf "$SUPPORT_DIR" ;;
esac
echo "removed $APP_NAME"
