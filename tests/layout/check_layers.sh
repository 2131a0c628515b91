#!/usr/bin/env bash
# The layers of docs/architecture.md, checked on every internal include under src/:
#   registry → sinks / store → engine / config / format → transport → core
# Public headers (spdlog_ext/…) count as the layer that implements them.
# A file may include its own layer and the ones below it, never one above; a sink folder may
# include sinks/http (the HTTP sinks' shared status table and settings) but no other sink's folder.
# Usage: check_layers.sh SOURCE_DIR   (exit status 1 and one line per violation)
set -euo pipefail
src=${1:?usage: check_layers.sh SOURCE_DIR}/src

rank() {
  case $1 in
    core) echo 0 ;;
    transport) echo 1 ;;
    engine | config | format) echo 2 ;;
    sinks | store) echo 3 ;;
    registry) echo 4 ;;
    *) echo "" ;;
  esac
}

bad=0
while IFS= read -r line; do
  file=${line%%:*}
  target=$(sed -n 's/^#include "\([^"]*\)".*/\1/p' <<<"${line#*:}")
  from_dir=${file#"$src"/}
  from=${from_dir%%/*}
  to=${target%%/*}
  if [[ $to == spdlog_ext ]]; then  # public headers belong to the layer that implements them
    case ${target#spdlog_ext/} in
      engine/* | health.h) to=engine ;;
      sinks/*) to=sinks ;;
      registry.h | spdlog_ext.h) to=registry ;;
      env_options.h | runtime_levels.h) to=config ;;
      postgres_log_store.h) to=store ;;
      json_formatter.h | fields_flag.h) to=format ;;
      *) to=core ;;  # records, fields, redaction, config_error, metrics, version, features
    esac
  fi
  from_rank=$(rank "$from")
  to_rank=$(rank "$to")
  [[ -z $from_rank || -z $to_rank ]] && continue  # spdlog_ext/… public headers, same-folder names
  if ((to_rank > from_rank)); then
    echo "upward include: $from_dir includes $target ($from → $to)"
    bad=1
  fi
  if [[ $from == sinks && $to == sinks ]]; then
    from_sink=$(cut -d/ -f2 <<<"$from_dir")
    to_sink=$(cut -d/ -f2 <<<"$target")
    if [[ $target != spdlog_ext/* && $to_sink != "$from_sink" && $to_sink != http &&
          $to_sink != logger_factory.h ]]; then
      echo "sink includes another sink: $from_dir includes $target"
      bad=1
    fi
  fi
done < <(grep -rn --include='*.h' --include='*.cpp' '^#include "' "$src" | sed 's/:[0-9]*:/:/')

if ((bad)); then
  exit 1
fi
echo "layers: every internal include under src/ points down or sideways"
