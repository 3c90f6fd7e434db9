// The failure catalogue is data: one table below. Each pattern has its own
// realistic sample in tests/unit/diagnose_catalogue_test.cc, and that test
// fails when a pattern has no sample.
#include "diagnose/catalogue.h"

#include <algorithm>
#include <regex>
#include <sstream>

namespace rf {

namespace {

constexpr char kGenerateCdi[] = "sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml";
constexpr char kSelinuxBuild[] =
    "ringfence selinux module --flavor container-selinux --out nvidia-selinux && cd nvidia-selinux "
    "&& checkmodule -M -m -o nvidia-container.mod nvidia-container.te && semodule_package -o "
    "nvidia-container.pp -m nvidia-container.mod -f nvidia-container.fc && sudo semodule -i "
    "nvidia-container.pp";
constexpr char kSelinuxRun[] =
    "docker run --rm --gpus all --cap-drop=ALL --security-opt=no-new-privileges "
    "--security-opt label=type:nvidia_container_t IMAGE nvidia-smi";

// An endpoint on the host's loopback, whole: the SSRF rule refuses loopback
// unless allowed_ips covers it.
constexpr char kLoopbackRecipe[] =
    "network_policies:\n  local_api:\n    endpoints:\n      - { host: 127.0.0.1, port: PORT, "
    "allowed_ips: [127.0.0.1/32] }";

std::vector<KnownFailure> BuildCatalogue() {
  return {
      {"cdi-specs-missing",
       "CDI specs missing: the runtime cannot resolve the requested GPU device",
       "Docker, Podman or containerd was asked for a CDI device such as nvidia.com/gpu=all, but no "
       "CDI specification in /etc/cdi or /var/run/cdi defines it. The spec is generated from the "
       "installed driver by the NVIDIA Container Toolkit and is not created automatically on every "
       "install (and goes stale after a driver upgrade).",
       {R"(unresolvable CDI devices)", R"(CDI devices? not found)", R"(unknown CDI device)",
        R"(failed to inject CDI devices)"},
       {{"Generate the CDI specification for the installed driver", kGenerateCdi},
        {"Check the device names the runtime can now resolve", "nvidia-ctk cdi list"},
        {"Request one of the listed names",
         "docker run --rm --device nvidia.com/gpu=all ubuntu nvidia-smi -L"},
        {"Regenerate the spec after every driver upgrade (it names versioned library paths)",
         kGenerateCdi}},
       false,
       "No: the same request fails until a spec defines the device."},

      {"nvml-insufficient-permissions",
       "NVML cannot open the GPU device nodes (insufficient permissions)",
       "nvidia-smi and every NVML user open /dev/nvidiactl and /dev/nvidiaN read-write. The "
       "process lacks that right: file mode or group, a container without the device (device "
       "cgroup), a sandbox that does not grant the nodes, or an SELinux label the domain may not "
       "use.",
       {R"(Failed to initialize NVML: Insufficient Permissions)", R"(NVML_ERROR_NO_PERMISSION)",
        R"(NVMLError_NoPermission)"},
       {{"Check that the nodes exist and are read-write for the user",
         "ls -l /dev/nvidiactl /dev/nvidia[0-9]* /dev/nvidia-uvm"},
        {"Under ringfence, turn the GPU baseline on (policy `gpu: on`) and check that the nodes "
         "are granted",
         "ringfence policy show --effective --policy POLICY.yaml"},
        {"In containers, request the GPU through the runtime instead of bind-mounting /dev",
         "docker run --rm --gpus all IMAGE nvidia-smi"},
        {"Under SELinux, look for AVC denials and relabel the GPU files",
         "sudo ausearch -m avc -ts recent; ringfence gpu list | sudo restorecon -v -f -"},
        {"Check the whole host", "ringfence doctor"}},
       false,
       "No: the permission is missing until the policy, container or label changes."},

      {"cuda-init-304",
       "cuInit failed with error 304 (CUDA_ERROR_OPERATING_SYSTEM)",
       "The CUDA driver got an error from a system call while initialising: usually "
       "/dev/nvidia-uvm is missing or cannot be opened, an ioctl on a GPU node is refused "
       "(Landlock ABI 5+ without the device ioctl right, or a seccomp filter), or, on WSL, "
       "/dev/dxg is not available.",
       {R"(cuInit[^\n]*\b304\b)", R"(CUDA_ERROR_OPERATING_SYSTEM)", R"(cudaErrorOperatingSystem)",
        R"(OS call failed or operation not supported on this OS)"},
       {{"Check that the UVM nodes exist; create them if not",
         "ls -l /dev/nvidia-uvm /dev/nvidia-uvm-tools || sudo nvidia-modprobe -u -c=0"},
        {"Under ringfence, set `gpu: on` so the GPU baseline grants the nodes including ioctl",
         "ringfence policy show --effective --policy POLICY.yaml"},
        {"Check Landlock and seccomp support on this host", "ringfence doctor"},
        {"Find the refused call",
         "strace -f -e trace=openat,ioctl,mmap -o /tmp/cuda.trace CMD; grep -E 'EACCES|EPERM' "
         "/tmp/cuda.trace"}},
       false,
       "No, unless the driver was just being loaded: then retry once after nvidia-modprobe."},

      {"persistenced-eacces",
       "nvidia-persistenced: permission denied",
       "NVML clients connect to nvidia-persistenced through /run/nvidia-persistenced/socket; a "
       "sandbox that does not grant the socket, or socket permissions, refuse the connection "
       "(NVML then falls back to slower direct device access). When the daemon itself logs the "
       "error, its runtime directory is not writable by the user it runs as.",
       {R"(nvidia-persistenced/socket[^\n]*(EACCES|Permission denied))",
        R"(nvidia-persistenced(\[[0-9]+\])?:[^\n]*(Permission denied|EACCES))"},
       {{"Check the socket and its permissions", "ls -l /run/nvidia-persistenced/socket"},
        {"Under ringfence, grant the socket in the policy",
         "network:\n  unix_sockets: [/run/nvidia-persistenced/socket]"},
        {"If the daemon fails: give its runtime directory to its user and restart it",
         "sudo install -d -o nvidia-persistenced -g nvidia-persistenced /run/nvidia-persistenced "
         "&& sudo systemctl restart nvidia-persistenced"}},
       false,
       "No: the socket stays refused until it is granted or its permissions change."},

      {"landlock-unavailable",
       "Landlock is not supported or disabled on this kernel",
       "Landlock needs Linux 5.13+ built with CONFIG_SECURITY_LANDLOCK=y and `landlock` in the "
       "active LSM list (CONFIG_LSM or the `lsm=` boot parameter). Without it ringfence cannot "
       "restrict the filesystem: `hard_requirement` refuses to run, `best_effort` runs with the "
       "filesystem layer reported as not enforced.",
       {R"(landlock[^\n]*(not supported|EOPNOTSUPP|Function not implemented|ENOSYS|disabled|unavailable))"},
       {{"See whether landlock is an active LSM", "cat /sys/kernel/security/lsm"},
        {"Check the kernel configuration", "grep LANDLOCK /boot/config-$(uname -r)"},
        {"Enable it at boot: prepend landlock to the current list in GRUB_CMDLINE_LINUX, then "
         "update-grub and reboot",
         "lsm=landlock,lockdown,yama,integrity,apparmor,bpf"},
        {"Meanwhile, run without filesystem confinement explicitly (reported, never silent)",
         "landlock:\n  compatibility: best_effort"}},
       false,
       "No: only a kernel change or reboot helps."},

      {"userns-disabled",
       "Unprivileged user namespaces are disabled",
       "Creating a user namespace was refused: Debian's kernel.unprivileged_userns_clone=0, "
       "user.max_user_namespaces=0, Ubuntu's AppArmor restriction "
       "(kernel.apparmor_restrict_unprivileged_userns=1), or a container seccomp profile. "
       "ringfence's namespace network mode needs them when not run as root.",
       {R"(No permissions to creat(e|ing) new namespace)",
        R"(unshare failed: Operation not permitted)", R"(setting up uid map: Permission denied)",
        R"(user namespaces? (are|is) (not (enabled|available|permitted|supported)|disabled))",
        R"(operation="userns_create")"},
       {{"Read the relevant sysctls",
         "sysctl kernel.unprivileged_userns_clone user.max_user_namespaces "
         "kernel.apparmor_restrict_unprivileged_userns"},
        {"Debian: allow unprivileged user namespaces",
         "sudo sysctl -w kernel.unprivileged_userns_clone=1"},
        {"Ubuntu 23.10+: lift the AppArmor restriction (or give the program an AppArmor profile "
         "with `userns,`)",
         "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"},
        {"If the limit is 0, raise it", "sudo sysctl -w user.max_user_namespaces=15000"},
        {"Persist the setting in /etc/sysctl.d/, or run ringfence without namespaces",
         "ringfence run --mode platform -- CMD"}},
       false,
       "No: the kernel refuses until the sysctl or profile changes."},

      {"pidfd-getfd-blocked",
       "pidfd_getfd is blocked by the container's seccomp profile",
       "Docker's and containerd's default seccomp profile (RuntimeDefault) allows pidfd_getfd only "
       "with CAP_SYS_PTRACE, so in an ordinary or restricted pod it fails with EPERM. ringfence's "
       "platform mode does not need it (it reads the sockaddr with process_vm_readv and installs "
       "sockets with SECCOMP_IOCTL_NOTIF_ADDFD); other tools that do need it fail here.",
       {R"(pidfd_getfd[^\n]*(EPERM|Operation not permitted|ENOSYS|Function not implemented))"},
       {{"Check which seccomp mode the process runs under", "grep Seccomp /proc/self/status"},
        {"Use ringfence's platform mode, which works without pidfd_getfd",
         "ringfence run --mode platform -- CMD"},
        {"If a tool needs it, give the container CAP_SYS_PTRACE (the default profile then allows "
         "it) or a profile that lists pidfd_getfd",
         "docker run --cap-add=SYS_PTRACE IMAGE  # or --security-opt seccomp=./profile.json"},
        {"Check the host", "ringfence doctor"}},
       false,
       "No: the profile is fixed for the container's lifetime."},

      {"proxy-port-in-use",
       "The proxy port is already in use",
       "The egress proxy could not listen because another process holds the port. A fixed "
       "network.proxy_port collides when several sandboxes run on one host.",
       {R"((proxy|listen|bind)[^\n]*(Address already in use|EADDRINUSE))"},
       {{"See which process holds the port", "ss -ltnp 'sport = :PORT'"},
        {"Let ringfence choose an ephemeral port (the default)", "network:\n  proxy_port: 0"},
        {"Or stop the other process, or pick another port", ""}},
       true,
       "Yes, once the port is free or proxy_port is 0."},

      {"selinux-gpu-device-denied",
       "SELinux denies the container the GPU devices (xserver_misc_device_t)",
       "The GPU nodes /dev/nvidia* are labelled xserver_misc_device_t, which container_t may not "
       "read, write or ioctl. The fix is a domain that may, not --privileged or setenforce 0.",
       {R"(avc:\s+denied[^\n]*tcontext=\S*:xserver_misc_device_t)"},
       {{"Confirm the denials", "sudo ausearch -m avc -ts recent | grep xserver_misc_device_t"},
        {"Build and install the nvidia_container_t module", kSelinuxBuild},
        {"Make sure the GPU files carry their default labels",
         "ringfence gpu list | sudo restorecon -v -f -"},
        {"Run the container in the new domain", kSelinuxRun}},
       false,
       "No: the policy refuses every time until the module is loaded."},

      {"selinux-runtime-files-denied",
       "SELinux denies the container the driver files the NVIDIA hook mounted",
       "The NVIDIA runtime hook mounts driver files on a tmpfs labelled container_runtime_tmpfs_t "
       "and bind-mounts driver binaries labelled xserver_exec_t; container_t may not read or "
       "execute them.",
       {R"(avc:\s+denied[^\n]*tcontext=\S*:container_runtime_tmpfs_t)",
        R"(avc:\s+denied[^\n]*tcontext=\S*:xserver_exec_t)"},
       {{"Confirm the denials",
         "sudo ausearch -m avc -ts recent | grep -E 'container_runtime_tmpfs_t|xserver_exec_t'"},
        {"Build and install the nvidia_container_t module", kSelinuxBuild},
        {"Run the container in the new domain", kSelinuxRun}},
       false,
       "No: the policy refuses every time until the module is loaded."},

      {"ringfence-policy-denied",
       "ringfence's egress proxy refused a destination the policy does not grant (403)",
       "Network access from the sandbox goes through ringfence's proxy, which answers 403 "
       "Forbidden for every host:port (and calling binary) that no network_policies entry allows. "
       "Nothing is wrong with the network: the policy has to grant the destination.",
       {R"(("action"\s*:\s*"deny"[^\n]*"layer"\s*:\s*"proxy")|("layer"\s*:\s*"proxy"[^\n]*"action"\s*:\s*"deny"))",
        R"(CONNECT tunnel failed, response 403)", R"(Tunnel connection failed: 403)",
        R"(ringfence: proxy[^\n]*denied)", R"(forbidden by ringfence policy)"},
       {{"Find the refused destinations in the audit log (run with --audit FILE)",
         "grep '\"action\":\"deny\"' AUDIT.jsonl"},
        {"Validate the policy after adding the entry, then run again",
         "ringfence policy validate POLICY.yaml"}},
       false,
       "No: the policy is deterministic; the same request is refused until it is granted."},

      {"ringfence-direct-connect-denied",
       "ringfence refused a direct connection that bypassed its proxy",
       "In platform mode the sandboxed program may connect only to ringfence's proxy and the "
       "policy's loopback_ports; anything else fails with EACCES (Permission denied) and a "
       "network deny event. In namespace mode the sandbox's loopback is its own: a connect to "
       "a loopback port nothing in the sandbox listens on fails with ECONNREFUSED and the same "
       "event. The program ignored HTTP_PROXY/HTTPS_PROXY, which ringfence sets, or tried a "
       "service of the host's loopback (a local API server), which only the proxy reaches, "
       "and only with an endpoint whose allowed_ips cover loopback.",
       {R"(("action"\s*:\s*"deny"[^\n]*"layer"\s*:\s*"network")|("layer"\s*:\s*"network"[^\n]*"action"\s*:\s*"deny"))"},
       {{"See the proxy settings the program got", "ringfence run -- env | grep -i _proxy"},
        {"Make the program use them (most tools read HTTPS_PROXY; some need their own setting, "
         "e.g. git config http.proxy or a JVM's -Dhttps.proxyHost)",
         ""},
        {"For a service the host runs on its loopback (a local API server): an endpoint on the "
         "loopback host with allowed_ips covering loopback (the SSRF rule refuses loopback "
         "without them); the proxy then carries that host (it leaves NO_PROXY)",
         kLoopbackRecipe},
        {"For a server the sandbox runs itself (platform mode), list its port",
         "network:\n  loopback_ports: [PORT]"}},
       false,
       "No: the same connect is refused until the program uses the proxy or the port is listed."},

      {"host-loopback-refused",
       "A connection to a loopback port was refused (a host service the sandbox cannot see?)",
       "Under ringfence, 127.0.0.1 and ::1 are not the host's loopback unless the policy says so: "
       "in namespace mode the sandbox has a loopback of its own, and platform mode refuses direct "
       "connects outside network.loopback_ports. A service the host runs there (a local API "
       "server, a database) is reached through ringfence's proxy, with an endpoint naming the "
       "loopback host and allowed_ips covering loopback; without ringfence, nothing listens on "
       "that port.",
       {R"(Failed to connect to (127\.0\.0\.1|localhost|::1) port [0-9]+)",
        R"(ECONNREFUSED (127\.0\.0\.1|::1):[0-9]+)",
        R"((127\.0\.0\.1|localhost)[^\n]*Connection refused)"},
       {{"If the service runs on the host, let the proxy carry it (allowed_ips is required for "
         "loopback; the host then leaves NO_PROXY, so the program needs no change)",
         kLoopbackRecipe},
        {"Check the service listens on the host", "ss -ltn 'sport = :PORT'"},
        {"Run with an audit log: the denial's hint names the endpoint to add",
         "ringfence run --audit /var/tmp/rf.jsonl -- CMD; grep deny /var/tmp/rf.jsonl"}},
       false,
       "No: until the policy carries the host, or the service is started."},

      {"nvidia-runtime-missing",
       "Docker has no GPU device driver (NVIDIA Container Toolkit not configured)",
       "`--gpus` needs the NVIDIA Container Toolkit installed and registered as a Docker runtime.",
       {R"(could not select device driver "[^"]*" with capabilities: \[\[gpu\]\])"},
       {{"Install the NVIDIA Container Toolkit (package nvidia-container-toolkit)",
         "sudo apt-get install -y nvidia-container-toolkit"},
        {"Register the runtime with Docker and restart it",
         "sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker"},
        {"Or use CDI instead", kGenerateCdi}},
       false,
       "No: Docker needs the runtime configured first."},

      {"driver-libraries-missing",
       "The NVIDIA driver libraries cannot be loaded (libnvidia-ml.so.1)",
       "The user-space driver (libnvidia-ml, libcuda) is not installed, not in the dynamic linker "
       "cache, or not readable inside the sandbox.",
       {R"(load library failed: libnvidia-ml\.so\.1)",
        R"(libnvidia-ml\.so\.1: cannot open shared object file)"},
       {{"Check the linker cache", "ldconfig -p | grep -E 'libnvidia-ml|libcuda'"},
        {"Install the driver's user-space libraries, then refresh the cache", "sudo ldconfig"},
        {"Under ringfence, list what a GPU workload must read and set `gpu: on`",
         "ringfence gpu list"}},
       false,
       "No: the library stays missing until installed or granted."},

      {"nvml-unknown-error",
       "NVML lost the GPU devices (Failed to initialize NVML: Unknown Error)",
       "The device nodes are still visible but opening them fails. In a container this is the "
       "classic symptom of `systemctl daemon-reload` (or any systemd unit change) rewriting the "
       "container's device cgroup: with the systemd cgroup driver the rules the NVIDIA runtime "
       "hook added for /dev/nvidia* are dropped, so a container that worked loses its GPUs. It "
       "also appears when the /dev/char symlinks systemd needs are missing. Outside containers: a "
       "sandbox that lists the nodes but cannot open them.",
       {R"(Failed to initialize NVML: Unknown Error)"},
       {{"Confirm the nodes are there but refused", "ls -l /dev/nvidia*; nvidia-smi -L"},
        {"Restart the container to get the device rules back (until the next daemon-reload)",
         "docker restart CONTAINER"},
        {"Fix it for good: create the /dev/char symlinks systemd resolves device rules through",
         "sudo nvidia-ctk system create-dev-char-symlinks --create-all"},
        {"Or request the GPUs through CDI, which systemd reloads do not drop", kGenerateCdi},
        {"Or switch Docker to the cgroupfs driver (/etc/docker/daemon.json), then restart docker",
         "{\"exec-opts\": [\"native.cgroupdriver=cgroupfs\"]}"},
        {"Under ringfence, check the nodes are granted read-write (`gpu: on`)",
         "ringfence policy show --effective --policy POLICY.yaml"}},
       true,
       "Yes, once: a container restart restores the rules until the next systemd reload."},

      {"cuda-no-device",
       "CUDA sees no GPU (CUDA_ERROR_NO_DEVICE)",
       "The driver loaded but found no usable device: CUDA_VISIBLE_DEVICES is empty or names no "
       "GPU, the container was started without a GPU (no --gpus/CDI device), the GPU nodes "
       "(/dev/nvidia0...) do not exist in this mount namespace or are not granted, or the kernel "
       "module has no device bound (dmesg).",
       {R"(CUDA_ERROR_NO_DEVICE)", R"(no CUDA-capable device is detected)", R"(cudaErrorNoDevice)"},
       {{"List the GPUs the driver sees on the host", "nvidia-smi -L"},
        {"Check the variable that hides devices",
         "echo \"CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES\""},
        {"Check the device nodes where the job runs", "ls -l /dev/nvidia*"},
        {"Under ringfence, turn the GPU baseline on and check every node is granted",
         "ringfence gpu list; ringfence policy show --effective --policy POLICY.yaml"},
        {"In containers, request the GPU", "docker run --rm --gpus all IMAGE nvidia-smi -L"},
        {"If the host sees none either, look at the driver's kernel messages",
         "sudo dmesg | grep -iE 'nvidia|NVRM'"}},
       false,
       "No: the same environment sees no device until it changes."},

      {"nvml-driver-mismatch",
       "NVIDIA kernel module and user-space libraries are different versions",
       "The driver was upgraded (or partially installed) without reloading the kernel module: the "
       "loaded module still has the old version while libnvidia-ml/libcuda are the new one. In a "
       "container, the libraries injected by the runtime (or a CDI spec generated for another "
       "driver) do not match the host's module.",
       {R"(Driver/library version mismatch)"},
       {{"Compare the loaded module with the installed libraries",
         "cat /proc/driver/nvidia/version; ls /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.*"},
        {"Reload the module (stop every GPU user first), or reboot",
         "sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia"},
        {"Regenerate the CDI spec for the installed driver", kGenerateCdi}},
       false,
       "No: it persists until the module is reloaded or the host rebooted."},

      {"nvidia-smi-no-driver",
       "nvidia-smi cannot talk to the NVIDIA kernel driver",
       "The nvidia kernel module is not loaded (not built for the running kernel after an "
       "upgrade, refused by Secure Boot as unsigned, blacklisted), or /dev/nvidiactl cannot be "
       "opened where nvidia-smi runs (a container or sandbox without the node).",
       {R"(NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver)"},
       {{"Is the module loaded?", "lsmod | grep nvidia; ls -l /dev/nvidiactl"},
        {"Load it and read why it fails",
         "sudo modprobe nvidia; sudo dmesg | grep -iE 'nvidia|NVRM'"},
        {"After a kernel upgrade, rebuild the module for it", "sudo dkms autoinstall"},
        {"With Secure Boot on, sign and enroll the module (or install the signed driver package)",
         "mokutil --sb-state"},
        {"Under ringfence, grant the nodes (`gpu: on`) and check", "ringfence gpu list"}},
       false,
       "No: the driver stays unreachable until the module is loaded or the node granted."},

      {"cuda-driver-too-old",
       "The CUDA runtime needs a newer driver than the one installed (or found)",
       "The application's CUDA runtime (e.g. the one bundled with PyTorch) is newer than the "
       "CUDA version the installed driver supports (nvidia-smi shows that version in its header). "
       "The runtime reports the same error when it cannot load libcuda.so.1 at all: a container "
       "or sandbox without the driver's user-space library.",
       {R"(CUDA driver version is insufficient for CUDA runtime version)",
        R"(cudaErrorInsufficientDriver)", R"(CUDA_ERROR_SYSTEM_DRIVER_MISMATCH)"},
       {{"Compare the driver's CUDA version with the application's",
         "nvidia-smi | head -4; python3 -c 'import torch; print(torch.version.cuda)'"},
        {"Check libcuda is present and readable where the job runs",
         "ldconfig -p | grep libcuda.so.1"},
        {"Upgrade the driver, or install a build of the application for the older CUDA", ""},
        {"Datacenter GPUs: the CUDA forward-compatibility package lets a newer runtime use an "
         "older driver",
         "sudo apt-get install cuda-compat-12-4  # then LD_LIBRARY_PATH=/usr/local/cuda/compat"},
        {"Under ringfence, check the driver libraries are readable (`gpu: on`)",
         "ringfence policy show --effective --policy POLICY.yaml"}},
       false,
       "No: the versions do not change by themselves."},

      {"dns-resolution-failed",
       "A host name could not be resolved (EAI_AGAIN)",
       "Inside a ringfence sandbox there is no DNS: namespace mode has no network at all and "
       "platform mode refuses UDP. Names are resolved by ringfence's proxy, so a program that "
       "resolves them itself (it ignores HTTPS_PROXY/HTTP_PROXY, or the host is in NO_PROXY) "
       "fails with EAI_AGAIN / \"Could not resolve host\". If the name reached the proxy, the "
       "host's own resolver failed (then the proxy answers 502, not this).",
       {R"(\bEAI_AGAIN\b)", R"(Could not resolve host)", R"(Temporary failure in name resolution)",
        R"(getaddrinfo ENOTFOUND)"},
       {{"See the proxy settings the program got", "ringfence run -- env | grep -i _proxy"},
        {"Make the program use them (curl, pip, npm, git read HTTPS_PROXY; others need their "
         "own setting)",
         "curl -x \"$HTTPS_PROXY\" https://HOST/"},
        {"Check the name resolves on the host, where the proxy resolves it", "getent hosts HOST"},
        {"Or give a fixed address in the policy (the proxy uses it instead of DNS)",
         "network:\n  hosts: {HOST: ADDRESS}"},
        {"Check which rule decides for the destination",
         "ringfence why HOST:443 --policy POLICY.yaml"}},
       true,
       "Only when the host's resolver was briefly down; a sandboxed program that bypasses the "
       "proxy fails every time."},

      {"git-dubious-ownership",
       "git refuses a repository owned by another user (dubious ownership)",
       "git (2.35.2+) does not work in a repository whose directory belongs to another user than "
       "the one running git. ringfence started as root runs the command as `process.run_as_user` "
       "(nobody by default), so a repository owned by a person or by root is \"dubious\" inside.",
       {R"(detected dubious ownership in repository)"},
       {{"See who owns the repository", "stat -c '%U %u' REPO"},
        {"Run the sandbox as that user (policy)", "process:\n  run_as_user: OWNER"},
        {"Or trust the directory for this run only, without writing a git config",
         "ringfence run -- env GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory "
         "GIT_CONFIG_VALUE_0=REPO git status"}},
       false,
       "No: git decides from the owner every time."},

      {"docker-daemon-unreachable",
       "The Docker daemon's socket cannot be reached",
       "The Docker client talks to the daemon through /var/run/docker.sock (or DOCKER_HOST). "
       "Either the daemon is not running, or the client runs in a ringfence sandbox: host unix "
       "sockets are refused unless `network.unix_sockets` lists them, and access to docker.sock "
       "is root on the host.",
       {R"(Cannot connect to the Docker daemon)"},
       {{"Outside the sandbox: is the daemon running?",
         "systemctl status docker; ls -l /var/run/docker.sock"},
        {"Check which socket the client uses", "echo \"$DOCKER_HOST\"; docker context ls"},
        {"Only if the sandboxed program may control Docker (equivalent to root on the host): "
         "grant the socket",
         "network:\n  unix_sockets: [/var/run/docker.sock]"}},
       true,
       "Yes, if the daemon was starting; a sandbox that does not grant the socket refuses every "
       "time."},

      {"sandbox-permission-denied",
       "Permission denied inside the sandbox (a path the policy does not grant)",
       "Landlock refuses with EACCES (\"Permission denied\") every file access outside the "
       "policy's read_only/read_write grants, and writes in read-only ones; file permissions "
       "still apply to the sandbox user as well. Reported only when no more specific entry "
       "matched.",
       {R"(: Permission denied\b)", R"(\bEACCES\b)", R"(PermissionError: \[Errno 13\])"},
       {{"Ask which rule decides for the path", "ringfence why PATH --policy POLICY.yaml"},
        {"See every path the policy grants, baselines included",
         "ringfence policy show --effective --policy POLICY.yaml"},
        {"Grant it (read_write only if the program must write there), then validate",
         "filesystem_policy:\n  read_only: [PATH]"},
        {"Check the file's own permissions for the sandbox user", "ls -ld PATH"}},
       false,
       "No: the same access is refused until the policy grants it.",
       true},
  };
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  std::string out(s.substr(b, e - b + 1));
  if (out.size() > 300) out = out.substr(0, 297) + "...";
  return out;
}

struct CompiledEntry {
  const KnownFailure* failure;
  std::vector<std::regex> regexes;
};

const std::vector<CompiledEntry>& Compiled() {
  static const std::vector<CompiledEntry> compiled = [] {
    std::vector<CompiledEntry> out;
    for (const auto& f : FailureCatalogue()) {
      CompiledEntry c{&f, {}};
      for (const auto& p : f.patterns)
        c.regexes.emplace_back(p,
                               std::regex::ECMAScript | std::regex::icase | std::regex::optimize);
      out.push_back(std::move(c));
    }
    return out;
  }();
  return compiled;
}

// The destination ringfence's proxy refused, when the text names it.
std::optional<std::pair<std::string, std::string>> RefusedDestination(std::string_view text) {
  static const std::regex kAudit(R"re("subject"\s*:\s*"\[?([A-Za-z0-9._:-]+?)\]?:([0-9]{1,5})")re");
  static const std::regex kConnect(R"(CONNECT ([A-Za-z0-9.-]+):([0-9]{1,5}))");
  // The proxy's 403 body and its end-of-run summary ("  host:443  /usr/bin/curl  x2").
  static const std::regex kBody(R"re("host"\s*:\s*"([^"]+)"[^\n]*"port"\s*:\s*([0-9]{1,5}))re");
  static const std::regex kSummary(R"(\n\s+([A-Za-z0-9.-]+):([0-9]{1,5})\s+\S+\s+x[0-9]+)");
  static const std::regex kUrl(R"((https?)://([A-Za-z0-9.-]+)(:([0-9]{1,5}))?)");
  std::string s(text.substr(0, 1 << 20));
  std::smatch m;
  if (std::regex_search(s, m, kAudit)) return std::make_pair(m[1].str(), m[2].str());
  if (std::regex_search(s, m, kBody)) return std::make_pair(m[1].str(), m[2].str());
  if (std::regex_search(s, m, kSummary)) return std::make_pair(m[1].str(), m[2].str());
  if (std::regex_search(s, m, kConnect)) return std::make_pair(m[1].str(), m[2].str());
  if (std::regex_search(s, m, kUrl))
    return std::make_pair(m[2].str(),
                          m[4].matched ? m[4].str() : (m[1].str() == "http" ? "80" : "443"));
  return std::nullopt;
}

std::vector<RecoveryStep> ExtraSteps(const KnownFailure& f, std::string_view text,
                                     const std::string& evidence) {
  std::vector<RecoveryStep> out;
  if (f.id == "ringfence-direct-connect-denied" || f.id == "host-loopback-refused") {
    // The port of the refused loopback destination, filled into the recipe.
    static const std::regex kLoopback(
        R"re((?:"subject"\s*:\s*"|Failed to connect to |ECONNREFUSED )(127\.0\.0\.1|localhost|\[?::1\]?)(?::| port )([0-9]{1,5}))re");
    std::smatch m;
    std::string head(text.substr(0, 1 << 20));
    if (std::regex_search(head, m, kLoopback)) {
      const bool v6 = m[1].str().find(':') != std::string::npos;
      const std::string host = v6 ? "::1" : "127.0.0.1";
      out.push_back({"The refused destination: a service of the host on " + m[1].str() + ":" +
                         m[2].str() + " is reached with this endpoint",
                     "network_policies:\n  local_api:\n    endpoints:\n      - { host: " + host +
                         ", port: " + m[2].str() + ", allowed_ips: [" +
                         (v6 ? "::1/128" : "127.0.0.1/32") + "] }"});
    }
  } else if (f.id == "ringfence-policy-denied") {
    auto dest = RefusedDestination(text);
    std::string host = dest ? dest->first : "HOST";
    std::string port = dest ? dest->second : "443";
    std::string key = dest ? host : "my-endpoint";
    std::replace(key.begin(), key.end(), '.', '-');
    static const std::regex kBinary(R"re("binary"\s*:\s*"(/[^"]+)")re");
    std::smatch m;
    std::string head(text.substr(0, 1 << 20));
    std::string binaries;
    // A loopback (or this host's) destination needs allowed_ips: the proxy's
    // hint names them; a loopback host literal implies them.
    static const std::regex kIps(R"(allowed_ips: \[([0-9a-fA-F.:/, ]+)\])");
    std::string ips;
    if (std::regex_search(head, m, kIps))
      ips = ", allowed_ips: [" + m[1].str() + "]";
    else if (host == "localhost")
      ips = ", allowed_ips: [127.0.0.1/32, ::1/128]";
    else if (host == "::1")
      ips = ", allowed_ips: [::1/128]";
    else if (host.rfind("127.", 0) == 0)
      ips = ", allowed_ips: [" + host + "/32]";
    if (std::regex_search(head, m, kBinary))
      binaries = "\n    binaries:\n      - { path: " + m[1].str() + " }";
    out.push_back(
        {"Add the destination to the policy (narrow it with `binaries:` to the program "
         "that needs it)",
         "network_policies:\n  " + key + ":\n    name: " + key +
             "\n    endpoints:\n      - { host: " + host + ", port: " + port + ips + " }" +
             binaries});
  } else if (f.id == "proxy-port-in-use") {
    static const std::regex kPort(R"(:([0-9]{2,5})\b)");
    std::smatch m;
    if (std::regex_search(evidence, m, kPort))
      out.push_back(
          {"The port in question is " + m[1].str(), "ss -ltnp 'sport = :" + m[1].str() + "'"});
  }
  return out;
}

}  // namespace

const std::vector<KnownFailure>& FailureCatalogue() {
  static const std::vector<KnownFailure> catalogue = BuildCatalogue();
  return catalogue;
}

std::vector<Diagnosis> Diagnose(std::string_view text) {
  const auto& compiled = Compiled();
  std::vector<Diagnosis> out;
  std::vector<bool> found(compiled.size(), false);
  size_t line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    // Long lines are cut: std::regex recurses per character.
    std::string line(text.substr(pos, std::min<size_t>(nl - pos, 4096)));
    ++line_no;
    for (size_t i = 0; i < compiled.size(); ++i) {
      if (found[i]) continue;
      for (size_t p = 0; p < compiled[i].regexes.size(); ++p) {
        if (!std::regex_search(line, compiled[i].regexes[p])) continue;
        found[i] = true;
        Diagnosis d{compiled[i].failure, p, line_no, Trim(line), {}};
        d.extra_steps = ExtraSteps(*d.failure, text, line);
        out.push_back(std::move(d));
        break;
      }
    }
    if (nl == text.size()) break;
    pos = nl + 1;
  }
  const bool specific = std::any_of(out.begin(), out.end(),
                                    [](const Diagnosis& d) { return !d.failure->only_alone; });
  if (specific)
    out.erase(std::remove_if(out.begin(), out.end(),
                             [](const Diagnosis& d) { return d.failure->only_alone; }),
              out.end());
  return out;
}

namespace {

std::vector<RecoveryStep> AllSteps(const Diagnosis& d) {
  std::vector<RecoveryStep> steps = d.failure->steps;
  // Derived steps go before the generic validation step at the end; a
  // filled-in loopback recipe goes first.
  const std::string& id = d.failure->id;
  size_t at = id == "ringfence-policy-denied" ? 1
              : id == "ringfence-direct-connect-denied" || id == "host-loopback-refused"
                  ? 0
                  : steps.size();
  steps.insert(steps.begin() + static_cast<std::ptrdiff_t>(at), d.extra_steps.begin(),
               d.extra_steps.end());
  return steps;
}

const std::vector<RecoveryStep>& GenericSteps() {
  static const std::vector<RecoveryStep> steps = {
      {"Check this host's sandbox and GPU readiness", "ringfence doctor"},
      {"See what the policy really enforces", "ringfence policy show --effective"},
      {"Run with an audit log and look for deny events",
       "ringfence run --audit /tmp/rf.jsonl -- CMD; grep deny /tmp/rf.jsonl"}};
  return steps;
}

void AppendSteps(std::ostringstream& o, const std::vector<RecoveryStep>& steps) {
  int n = 0;
  for (const auto& s : steps) {
    o << "  " << ++n << ". " << s.text << "\n";
    if (s.command.empty()) continue;
    std::istringstream lines(s.command);
    std::string l;
    bool first = true;
    while (std::getline(lines, l)) {
      o << (first ? "       $ " : "         ") << l << "\n";
      first = false;
    }
  }
}

nlohmann::json StepsJson(const std::vector<RecoveryStep>& steps) {
  nlohmann::json a = nlohmann::json::array();
  int n = 0;
  for (const auto& s : steps)
    a.push_back({{"step", ++n}, {"text", s.text}, {"command", s.command}});
  return a;
}

}  // namespace

std::string FormatDiagnoses(const std::vector<Diagnosis>& diagnoses) {
  std::ostringstream o;
  if (diagnoses.empty()) {
    o << "No known failure matched this text.\n"
      << "Recovery steps:\n";
    AppendSteps(o, GenericSteps());
    o << "Retry: unknown\n";
    return o.str();
  }
  bool first = true;
  for (const auto& d : diagnoses) {
    if (!first) o << "\n";
    first = false;
    o << "[" << d.failure->id << "] " << d.failure->summary << "\n"
      << "  Matched line " << d.line << ": " << d.evidence << "\n"
      << "  " << d.failure->explanation << "\n"
      << "Recovery steps:\n";
    AppendSteps(o, AllSteps(d));
    o << "Retry: " << d.failure->retry_note << "\n";
  }
  return o.str();
}

nlohmann::json DiagnosesToJson(const std::vector<Diagnosis>& diagnoses) {
  nlohmann::json out;
  out["known"] = !diagnoses.empty();
  out["matches"] = nlohmann::json::array();
  for (const auto& d : diagnoses) {
    out["matches"].push_back(
        {{"id", d.failure->id},
         {"summary", d.failure->summary},
         {"explanation", d.failure->explanation},
         {"line", d.line},
         {"evidence", d.evidence},
         {"pattern", d.failure->patterns[d.pattern_index]},
         {"steps", StepsJson(AllSteps(d))},
         {"retry", {{"helps", d.failure->retry_helps}, {"note", d.failure->retry_note}}}});
  }
  if (diagnoses.empty()) {
    out["generic"] = {{"summary", "No known failure matched this text."},
                      {"steps", StepsJson(GenericSteps())},
                      {"retry", {{"helps", nullptr}, {"note", "unknown"}}}};
  }
  return out;
}

}  // namespace rf
