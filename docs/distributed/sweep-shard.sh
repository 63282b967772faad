#!/usr/bin/env bash
# One shard of a `celluler sweep` on a cluster node. The scheduler says
# which shard: a Slurm array task (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT)
# or a Kubernetes Indexed Job pod (JOB_COMPLETION_INDEX, and SHARD_COUNT set
# in the manifest to the Job's completions). Every shard writes
# OUT_ROOT/shard-INDEX/shard.json; `celluler merge OUT_ROOT/shard-* --out DIR`
# joins them into exactly what the unsharded sweep writes.
#
# Usage: sweep-shard.sh OUT_ROOT SCENARIO [celluler sweep options: --seeds, --set, --threads]
# CELLULER names the binary (default: celluler on the PATH).
set -euo pipefail

if [ "$#" -lt 2 ]; then
  echo "usage: sweep-shard.sh OUT_ROOT SCENARIO [sweep options...]" >&2
  exit 2
fi
index="${SLURM_ARRAY_TASK_ID:-${JOB_COMPLETION_INDEX:-}}"
count="${SLURM_ARRAY_TASK_COUNT:-${SHARD_COUNT:-}}"
if [ -z "$index" ] || [ -z "$count" ]; then
  echo "sweep-shard.sh: no shard in the environment: set SLURM_ARRAY_TASK_ID and" \
       "SLURM_ARRAY_TASK_COUNT (Slurm array), or JOB_COMPLETION_INDEX and SHARD_COUNT" \
       "(Kubernetes Indexed Job)" >&2
  exit 2
fi
out_root="$1"
scenario="$2"
shift 2
exec "${CELLULER:-celluler}" sweep "$scenario" --shard "$index/$count" \
  --out "$out_root/shard-$index" --quiet "$@"
