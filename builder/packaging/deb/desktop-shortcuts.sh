#!/bin/sh
# The SOS shortcut on the desktop of every user of this computer, kept by the package's
# maintainer scripts:
#   configure  add a shortcut for each user who has none yet (or remove them all when the
#              package was built without shortcuts), refresh the ones that are still there
#   remove     remove the shortcuts listed in shortcuts.list, and unchanged copies that
#              users created since got from /etc/skel
# Each user's shortcut is written and removed by that user (runuser), never by root.
set -e

# The package's settings, filled in when it is built (builder/packaging/deb/scripts.py).
PACKAGE=''
SHORTCUT_NAME=''
TEMPLATE=''
STATE_DIR=''
SELF=''
WANTED=''
LIST="$STATE_DIR/shortcuts.list"
TAB=$(printf '\t')

log() {
    printf '%s: %s\n' "$PACKAGE" "$*" >&2
}

login_def() {
    value=$(awk -v key="$1" '$1 == key { value = $2 } END { print value }' /etc/login.defs 2>/dev/null || true)
    case $value in
        ''|*[!0-9]*) printf '%s\n' "$2" ;;
        *) printf '%s\n' "$value" ;;
    esac
}

# "name<TAB>home" of every local user who logs in: a uid from UID_MIN to UID_MAX, a home
# folder and a login shell. /etc/passwd only: a directory service could list thousands.
local_users() {
    uid_min=$(login_def UID_MIN 1000)
    uid_max=$(login_def UID_MAX 60000)
    while IFS=: read -r name _ uid _ _ home shell; do
        case $uid in ''|*[!0-9]*) continue ;; esac
        if [ "$uid" -lt "$uid_min" ] || [ "$uid" -gt "$uid_max" ]; then
            continue
        fi
        case $shell in */nologin|*/false) continue ;; esac
        case $home in ''|/|*"$TAB"*) continue ;; esac
        if [ -d "$home" ]; then
            printf '%s\t%s\n' "$name" "$home"
        fi
    done < /etc/passwd
}

as_user() {
    user=$1
    shift
    runuser -u "$user" -- "$SELF" "$@" < /dev/null
}

recorded_path() {
    if [ -f "$LIST" ]; then
        awk -F "$TAB" -v user="$1" '$1 == user { path = $2 } END { print path }' "$LIST"
    fi
}

configure() {
    if [ "$WANTED" != 1 ]; then
        remove
        return 0
    fi
    mkdir -p "$STATE_DIR"
    touch "$LIST"
    local_users | while IFS="$TAB" read -r name home; do
        recorded=$(recorded_path "$name")
        if [ -n "$recorded" ]; then
            as_user "$name" user-refresh "$recorded" || log "could not refresh $recorded"
        elif path=$(as_user "$name" user-install "$home"); then
            printf '%s\t%s\n' "$name" "$path" >> "$LIST"
        else
            log "no SOS shortcut for $name"
        fi
    done
}

remove() {
    if [ -f "$LIST" ]; then
        while IFS="$TAB" read -r name path; do
            case $path in */"$SHORTCUT_NAME") ;; *) continue ;; esac
            if id -u "$name" > /dev/null 2>&1; then
                as_user "$name" user-remove "$path" || log "could not remove $path"
            fi
        done < "$LIST"
    fi
    if [ -f "$TEMPLATE" ]; then
        local_users | while IFS="$TAB" read -r name home; do
            as_user "$name" user-remove-copy "$home" || log "could not check the desktop of $name"
        done
    fi
    rm -f "$LIST"
}

# --- run as the user ---------------------------------------------------------------------

# The desktop folder: XDG_DESKTOP_DIR from user-dirs.dirs ("$HOME/Schreibtisch" on a German
# system), else ~/Desktop.
desktop_dir() {
    value=""
    if [ -r "$1/.config/user-dirs.dirs" ]; then
        value=$(sed -n 's/^[[:space:]]*XDG_DESKTOP_DIR=//p' "$1/.config/user-dirs.dirs" | tail -n 1)
        value=${value#\"}
        value=${value%\"}
    fi
    # shellcheck disable=SC2016 # a literal $HOME, as user-dirs.dirs writes it
    case $value in
        '$HOME'|'$HOME/') printf '%s\n' "$1" ;;
        '$HOME/'*) printf '%s/%s\n' "$1" "${value#\$HOME/}" ;;
        /*) printf '%s\n' "$value" ;;
        *) printf '%s/Desktop\n' "$1" ;;
    esac
}

put_shortcut() {
    staged=$(mktemp "$(dirname -- "$1")/.sosqueue-shortcut.XXXXXX")
    if ! cp -- "$TEMPLATE" "$staged" || ! chmod 0755 "$staged" || ! mv -f -- "$staged" "$1"; then
        rm -f -- "$staged"
        return 1
    fi
    mark_trusted "$1"
}

# GNOME reads metadata::trusted, PCManFM and LXQt metadata::trust, Xfce a checksum. This
# needs the user's session bus; without one the desktop asks once before it runs the shortcut.
mark_trusted() {
    runtime="/run/user/$(id -u)"
    if [ ! -S "$runtime/bus" ] || ! command -v gio > /dev/null 2>&1; then
        return 0
    fi
    export XDG_RUNTIME_DIR="$runtime" DBUS_SESSION_BUS_ADDRESS="unix:path=$runtime/bus"
    checksum=$(sha256sum -- "$1" | cut -d ' ' -f 1)
    timeout 10 gio set -t string "$1" metadata::trusted true > /dev/null 2>&1 || return 0
    timeout 10 gio set -t string "$1" metadata::trust true > /dev/null 2>&1 || true
    timeout 10 gio set -t string "$1" metadata::xfce-exe-checksum "$checksum" > /dev/null 2>&1 || true
}

user_install() {
    dir=$(desktop_dir "$1")
    mkdir -p -- "$dir"
    put_shortcut "$dir/$SHORTCUT_NAME"
    printf '%s\n' "$dir/$SHORTCUT_NAME"
}

user_refresh() {
    if [ -f "$1" ] && [ ! -L "$1" ]; then
        put_shortcut "$1"
    fi
}

user_remove() {
    if [ -f "$1" ] && [ ! -L "$1" ]; then
        rm -f -- "$1"
    fi
}

user_remove_copy() {
    shortcut="$(desktop_dir "$1")/$SHORTCUT_NAME"
    if [ -f "$shortcut" ] && [ ! -L "$shortcut" ] && cmp -s -- "$shortcut" "$TEMPLATE"; then
        rm -f -- "$shortcut"
    fi
}

cd /
command=${1:-}
[ $# -eq 0 ] || shift
case $command in
    configure) configure ;;
    remove) remove ;;
    user-install) user_install "$1" ;;
    user-refresh) user_refresh "$1" ;;
    user-remove) user_remove "$1" ;;
    user-remove-copy) user_remove_copy "$1" ;;
    *)
        echo "usage: $0 configure|remove" >&2
        exit 2
        ;;
esac
