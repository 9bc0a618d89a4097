#include "unlock/hardening.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace reliant::unlock {

Status harden_process() {
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return Error::from_errno("cannot mark the process non-dumpable");
    const rlimit no_core{0, 0};
    if (::setrlimit(RLIMIT_CORE, &no_core) != 0) return Error::from_errno("cannot disable core files");
    // MCL_ONFAULT: lock pages as they are faulted in, instead of populating
    // every mapping at once (sanitizer shadow maps are terabytes). The raw
    // system call, because sanitizer runtimes turn mlockall into a no-op.
    if (::syscall(SYS_mlockall, MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0)
        return Error::from_errno("cannot lock the process's memory (mlockall), so the passphrase could reach swap")
            .advise("run as root, or raise the locked-memory limit (LimitMEMLOCK= in the unit)");
    return success();
}

}  // namespace reliant::unlock
