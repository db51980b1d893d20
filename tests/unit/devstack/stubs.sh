# shellcheck shell=bash
# Stubs of the devstack functions devstack/plugin.sh uses, for
# tests/unit/devstack/test_plugin.py. Each one appends its call to
# $STUB_LOG ("name arg1 arg2 ..."); the ini functions really edit files
# (through fake_ini.py) so the test can read what the plugin wrote.

: "${STUB_LOG:?}" "${STUB_BIN:?}"
STUB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

function _stub_log {
    printf '%s\n' "$*" >> "$STUB_LOG"
}

function _ini {
    "${PYTHON:-python3}" "$STUB_DIR/fake_ini.py" "$@"
}

# inc/ini-config
function iniset {
    _stub_log iniset "$@"
    _ini set "$@"
}
function iniget {
    _ini get "$@"
}
function iniget_multiline {
    _ini get_multiline "$@"
}
function iniadd {
    _stub_log iniadd "$@"
    local file=$1 section=$2 option=$3
    shift 3
    # shellcheck disable=SC2046  # word splitting wanted, as in devstack
    _ini set_multiline "$file" "$section" "$option" \
        $(_ini get_multiline "$file" "$section" "$option") "$@"
}

# functions-common and friends
function is_service_enabled {
    local wanted enabled words
    # devstack accepts names as separate arguments or in one string
    read -r -a words <<< "$*"
    for wanted in "${words[@]}"; do
        for enabled in ${ENABLED_SERVICES//,/ }; do
            [[ "$wanted" == "$enabled" ]] && return 0
        done
    done
    return 1
}
function trueorfalse {
    local default=$1 value=${!2:-}
    case "${value:-$default}" in
        1|yes|Yes|YES|true|True|TRUE|on|On|ON) echo True ;;
        *) echo False ;;
    esac
}
function define_plugin { _stub_log define_plugin "$@"; }
function echo_summary { :; }
function die { _stub_log die "$@"; exit 1; }
function sudo { _stub_log sudo "$@"; "$@"; }
function which { echo "$STUB_BIN/$1"; }
function get_python_exec_prefix { echo "$STUB_BIN"; }
function setup_develop { _stub_log setup_develop "$@"; }
function install_package { _stub_log install_package "$@"; }
function add_user_to_group { _stub_log add_user_to_group "$@"; }
function setup_logging { _stub_log setup_logging "$@"; }
function run_process { _stub_log run_process "$@"; }
function stop_process { _stub_log stop_process "$@"; }
function wait_for_service { _stub_log wait_for_service "$@"; }
function recreate_database { _stub_log recreate_database "$@"; }
function create_service_user { _stub_log create_service_user "$@"; }
function get_or_create_service {
    _stub_log get_or_create_service "$@"
    echo "service-id-$1"
}
function get_or_create_endpoint { _stub_log get_or_create_endpoint "$@"; }
function database_connection_url {
    echo "mysql+pymysql://root:dbsecret@127.0.0.1/$1?charset=utf8"
}
function get_transport_url {
    echo "rabbit://stackrabbit:rabbitsecret@$SERVICE_HOST:5672/"
}
function get_notification_url { get_transport_url; }
function iniset_rpc_backend {
    _stub_log iniset_rpc_backend "$@"
    iniset "$2" DEFAULT transport_url "$(get_transport_url)"
}
function configure_keystoneauth {
    _stub_log configure_keystoneauth "$@"
    local conf=$1 user=$2 section=$3
    iniset "$conf" "$section" auth_type password
    iniset "$conf" "$section" auth_url "$KEYSTONE_SERVICE_URI"
    iniset "$conf" "$section" username "$user"
    iniset "$conf" "$section" password "$SERVICE_PASSWORD"
    iniset "$conf" "$section" user_domain_name "$SERVICE_DOMAIN_NAME"
    iniset "$conf" "$section" project_name "$SERVICE_PROJECT_NAME"
    iniset "$conf" "$section" project_domain_name "$SERVICE_DOMAIN_NAME"
}
function configure_keystone_authtoken_middleware {
    _stub_log configure_keystone_authtoken_middleware "$@"
    configure_keystoneauth "$1" "$2" "${3:-keystone_authtoken}"
    iniset "$1" "${3:-keystone_authtoken}" www_authenticate_uri \
        "$KEYSTONE_SERVICE_URI"
}
function write_uwsgi_config {
    _stub_log write_uwsgi_config "$@"
    rm -f "$1"
    iniset "$1" uwsgi module "$2"
    iniset "$1" uwsgi socket "/var/run/uwsgi/$5.socket"
}
function remove_uwsgi_config {
    _stub_log remove_uwsgi_config "$@"
    rm -f "$1"
}
