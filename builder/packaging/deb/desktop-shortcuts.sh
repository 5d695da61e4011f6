#!/bin/sh
# The SOS shortcut on the desktop of every user of this computer:
#   configure  (postinst) add a shortcut for each user who never had one (or remove them all
#              when the package was built without shortcuts), refresh the ones still there
#   login      (the autostart entry, in each user's session) the same for the user logging in:
#              users created after the install get their shortcut at their first login
#   remove     (prerm) remove the shortcuts the package made, except copies a user changed
# Each user's record, ~/.local/state/PACKAGE/sos-shortcut, holds the path of the shortcut made
# for them: a user who deleted it does not get it back. Each user's files are written and
# removed by that user (runuser), never by root.
set -e

# The package's settings, filled in when it is built (builder/packaging/deb/scripts.py).
PACKAGE=''
SHORTCUT_NAME=''
TEMPLATE=''
STATE_DIR=''
SELF=''
WANTED=''
LIST="$STATE_DIR/shortcuts.list"
USER_STATE=".local/state/$PACKAGE"
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
        if ! path=$(as_user "$name" user-ensure "$home" "$(recorded_path "$name")"); then
            log "no SOS shortcut for $name"
        elif [ -n "$path" ] && [ -z "$(recorded_path "$name")" ]; then
            printf '%s\t%s\n' "$name" "$path" >> "$LIST"
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
    local_users | while IFS="$TAB" read -r name home; do
        as_user "$name" user-forget "$home" || log "could not check the desktop of $name"
    done
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

# The user's shortcut: made (and its path printed) if the user never had one, else refreshed
# if the user kept it. $2: the path shortcuts.list has for the user (versions before the
# per-user record listed only there), taken over as the record.
user_ensure() {
    record="$1/$USER_STATE/sos-shortcut"
    if [ ! -f "$record" ] && [ -n "${2:-}" ]; then
        mkdir -p -- "$1/$USER_STATE"
        printf '%s\n' "$2" > "$record"
    fi
    if [ -f "$record" ]; then
        user_refresh "$(cat -- "$record")"
        return 0
    fi
    dir=$(desktop_dir "$1")
    mkdir -p -- "$dir" "$1/$USER_STATE"
    put_shortcut "$dir/$SHORTCUT_NAME"
    printf '%s\n' "$dir/$SHORTCUT_NAME" > "$record"
    printf '%s\n' "$dir/$SHORTCUT_NAME"
}

login() {
    if [ "$WANTED" = 1 ] && [ -f "$TEMPLATE" ] && [ -d "${HOME:-}" ]; then
        user_ensure "$HOME" > /dev/null
    fi
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

# Remove the user's shortcut if the user did not change it, and the user's record.
user_forget() {
    record="$1/$USER_STATE/sos-shortcut"
    if [ ! -f "$record" ]; then
        return 0
    fi
    shortcut=$(cat -- "$record")
    if [ -f "$shortcut" ] && [ ! -L "$shortcut" ] && cmp -s -- "$shortcut" "$TEMPLATE"; then
        rm -f -- "$shortcut"
    fi
    rm -f -- "$record"
    rmdir -- "$1/$USER_STATE" 2> /dev/null || true
}

cd /
command=${1:-}
[ $# -eq 0 ] || shift
case $command in
    configure) configure ;;
    remove) remove ;;
    login) login ;;
    user-ensure) user_ensure "$1" "${2:-}" ;;
    user-refresh) user_refresh "$1" ;;
    user-remove) user_remove "$1" ;;
    user-forget) user_forget "$1" ;;
    *)
        echo "usage: $0 configure|login|remove" >&2
        exit 2
        ;;
esac
