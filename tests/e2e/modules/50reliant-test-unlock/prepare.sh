#!/bin/bash
# Test hooks from the kernel command line (never rd.reliant.*):
#   reliant_test.probe=1   at each `shufflecake open`, fake-shufflecake scans
#                          every process's argv and environment for the
#                          passphrase, and reliant-unlock's dumpable memory
#                          (what a core would hold) for it and earlier ones
#   reliant_test.production_target=1
#                          reliant-unlock with its production defaults (target
#                          shufflecake, module dm_sflc: not in Debian's kernel)
#   reliant_test.stacked=1 fake-shufflecake maps each volume under another
#                          target type (its stacked-volumes hook)
#   reliant_test.crash=N   the N-th `shufflecake open` aborts reliant-unlock;
#                          cores go to /run/cores (a pipe handler), and a
#                          control process is aborted first to show they do
mkdir -p /run/fake-shufflecake /run/reliant-test
module=dm_crypt
arguments="--volume-target=crypt --volume-module=dm_crypt"
for argument in $(cat /proc/cmdline); do
    case "$argument" in
        reliant_test.production_target=1)
            module=dm_sflc
            arguments=""
            ;;
        reliant_test.stacked=1)
            : > /run/fake-shufflecake/stacked-volumes
            ;;
        reliant_test.probe=1)
            : > /run/fake-shufflecake/probe
            # Text known to be in reliant-unlock's heap: the scan must see it.
            echo virtio-sflc > /run/fake-shufflecake/scan-parent
            ;;
        reliant_test.crash=*)
            mkdir -p /run/cores
            echo "|/usr/bin/dd of=/run/cores/core.%e.%p bs=65536" > /proc/sys/kernel/core_pattern
            echo 1 > /proc/sys/kernel/core_pipe_limit
            ulimit -c unlimited
            sleep 30 &
            control=$!
            sleep 1  # let it exec, so the core is named after sleep
            kill -ABRT "$control"
            wait "$control"
            echo "${argument#reliant_test.crash=}" > /run/fake-shufflecake/abort-parent
            ;;
    esac
done
printf 'RELIANT_TEST_VOLUME_MODULE=%s\nRELIANT_TEST_UNLOCK_ARGUMENTS=%s\n' "$module" "$arguments" \
    > /run/reliant-test/unlock.env
exit 0
