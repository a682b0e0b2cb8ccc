# `wait` returns early when a trapped signal arrives; keep waiting until the process has really exited.
wait_for() {
  local status
  while true; do
    INTERRUPTED=0
    wait "$1"
    status=$?
    [ "$INTERRUPTED" = 1 ] || return "$status"
  done
}
