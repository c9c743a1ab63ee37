"""Before Qt starts: can the platform plugin it will pick load on this Linux?

Why this exists: the PySide6 wheel carries Qt but not the X11 helper
libraries its xcb plugin links (libxcb-cursor0, libxcb-icccm4, ...). On a
minimal or fresh Linux install, Qt then dies with a message that blames the
plugin and suggests reinstalling, which does not help. Here we check first
and name the missing libraries with the install command for the user's
distribution.

This module imports nothing from Qt (importing QtGui would load the very
libraries we are checking). Two methods work together:
  * the loader itself: `dlopen` of the plugin with ctypes is the ground truth
    (it follows the plugin's RUNPATH into PySide6's own Qt/lib, the loader
    cache and LD_LIBRARY_PATH exactly as Qt's plugin loader will);
  * an ELF walk: the DT_NEEDED entries of the plugin and of everything it
    pulls in, resolved file by file, so the message lists *every* missing
    library rather than only the first one the loader trips over. No `ldd`
    needed (it is absent from many minimal systems and containers).
"""

from __future__ import annotations

import ctypes
import glob
import importlib.util
import os
import shlex
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# soname -> package, per distribution family. The xcb plugin's own needs come
# first; the rest are what Qt's Gui and the Wayland plugin link on top.
_PACKAGES: dict[str, dict[str, str]] = {
    # soname:                    (Debian/Ubuntu,        Fedora,                 Arch)
    "libxcb-cursor.so.0": {"apt": "libxcb-cursor0", "dnf": "xcb-util-cursor", "pacman": "xcb-util-cursor"},
    "libxcb-icccm.so.4": {"apt": "libxcb-icccm4", "dnf": "xcb-util-wm", "pacman": "xcb-util-wm"},
    "libxcb-util.so.1": {"apt": "libxcb-util1", "dnf": "xcb-util", "pacman": "xcb-util"},
    "libxcb-image.so.0": {"apt": "libxcb-image0", "dnf": "xcb-util-image", "pacman": "xcb-util-image"},
    "libxcb-keysyms.so.1": {"apt": "libxcb-keysyms1", "dnf": "xcb-util-keysyms", "pacman": "xcb-util-keysyms"},
    "libxcb-render-util.so.0": {
        "apt": "libxcb-render-util0", "dnf": "xcb-util-renderutil", "pacman": "xcb-util-renderutil"},
    "libxcb-randr.so.0": {"apt": "libxcb-randr0", "dnf": "libxcb", "pacman": "libxcb"},
    "libxcb-shm.so.0": {"apt": "libxcb-shm0", "dnf": "libxcb", "pacman": "libxcb"},
    "libxcb-sync.so.1": {"apt": "libxcb-sync1", "dnf": "libxcb", "pacman": "libxcb"},
    "libxcb-xfixes.so.0": {"apt": "libxcb-xfixes0", "dnf": "libxcb", "pacman": "libxcb"},
    "libxcb-render.so.0": {"apt": "libxcb-render0", "dnf": "libxcb", "pacman": "libxcb"},
    "libxcb-shape.so.0": {"apt": "libxcb-shape0", "dnf": "libxcb", "pacman": "libxcb"},
    "libxcb-xkb.so.1": {"apt": "libxcb-xkb1", "dnf": "libxcb", "pacman": "libxcb"},
    "libxcb-xinput.so.0": {"apt": "libxcb-xinput0", "dnf": "libxcb", "pacman": "libxcb"},
    "libxcb-glx.so.0": {"apt": "libxcb-glx0", "dnf": "libxcb", "pacman": "libxcb"},
    "libxcb.so.1": {"apt": "libxcb1", "dnf": "libxcb", "pacman": "libxcb"},
    "libX11-xcb.so.1": {"apt": "libx11-xcb1", "dnf": "libX11-xcb", "pacman": "libx11"},
    "libX11.so.6": {"apt": "libx11-6", "dnf": "libX11", "pacman": "libx11"},
    "libxkbcommon.so.0": {"apt": "libxkbcommon0", "dnf": "libxkbcommon", "pacman": "libxkbcommon"},
    "libxkbcommon-x11.so.0": {"apt": "libxkbcommon-x11-0", "dnf": "libxkbcommon-x11", "pacman": "libxkbcommon-x11"},
    "libGL.so.1": {"apt": "libgl1", "dnf": "libglvnd-glx", "pacman": "libglvnd"},
    "libEGL.so.1": {"apt": "libegl1", "dnf": "libglvnd-egl", "pacman": "libglvnd"},
    "libOpenGL.so.0": {"apt": "libopengl0", "dnf": "libglvnd-opengl", "pacman": "libglvnd"},
    "libfontconfig.so.1": {"apt": "libfontconfig1", "dnf": "fontconfig", "pacman": "fontconfig"},
    "libfreetype.so.6": {"apt": "libfreetype6", "dnf": "freetype", "pacman": "freetype2"},
    "libglib-2.0.so.0": {"apt": "libglib2.0-0", "dnf": "glib2", "pacman": "glib2"},
    "libgthread-2.0.so.0": {"apt": "libglib2.0-0", "dnf": "glib2", "pacman": "glib2"},
    "libdbus-1.so.3": {"apt": "libdbus-1-3", "dnf": "dbus-libs", "pacman": "dbus"},
    "libwayland-client.so.0": {"apt": "libwayland-client0", "dnf": "libwayland-client", "pacman": "wayland"},
    "libwayland-cursor.so.0": {"apt": "libwayland-cursor0", "dnf": "libwayland-cursor", "pacman": "wayland"},
    "libwayland-egl.so.1": {"apt": "libwayland-egl1", "dnf": "libwayland-egl", "pacman": "wayland"},
}

# What `apt install` / `dnf install` / `pacman -S` look like for each family.
_INSTALL = {"apt": "sudo apt install", "dnf": "sudo dnf install", "pacman": "sudo pacman -S"}
_FAMILY_IDS = {
    "apt": ("debian", "ubuntu", "linuxmint", "pop", "raspbian", "elementary", "zorin", "kali"),
    "dnf": ("fedora", "rhel", "centos", "rocky", "almalinux", "nobara"),
    "pacman": ("arch", "manjaro", "endeavouros", "garuda"),
}


@dataclass
class PluginCheck:
    """The outcome for one platform plugin."""

    platform: str
    plugin: Path | None
    missing: list[str] = field(default_factory=list)  # sonames that do not resolve
    loader_error: str | None = None  # dlopen's own words, when it failed

    @property
    def ok(self) -> bool:
        return self.plugin is not None and self.loader_error is None


# ---------------------------------------------------------------- ELF reading

@dataclass
class ElfInfo:
    needed: list[str]
    runpath: list[str]  # DT_RUNPATH, or DT_RPATH when there is no RUNPATH
    elf_class: int  # 1 = 32-bit, 2 = 64-bit
    machine: int


def read_elf(path: Path) -> ElfInfo | None:
    """DT_NEEDED and RUNPATH of an ELF shared object; None when it is not one."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) < 64 or data[:4] != b"\x7fELF":
        return None
    elf_class, endian = data[4], data[5]
    e = "<" if endian == 1 else ">"
    if elf_class == 2:
        machine = struct.unpack_from(e + "H", data, 18)[0]
        shoff = struct.unpack_from(e + "Q", data, 40)[0]
        shentsize, shnum = struct.unpack_from(e + "HH", data, 58)
        sh_fmt, dyn_fmt = e + "IIQQQQIIQQ", e + "qQ"
    elif elf_class == 1:
        machine = struct.unpack_from(e + "H", data, 18)[0]
        shoff = struct.unpack_from(e + "I", data, 32)[0]
        shentsize, shnum = struct.unpack_from(e + "HH", data, 46)
        sh_fmt, dyn_fmt = e + "IIIIIIIIII", e + "iI"
    else:
        return None
    sections = []
    for i in range(shnum):
        off = shoff + i * shentsize
        if off + struct.calcsize(sh_fmt) > len(data):
            return None
        sections.append(struct.unpack_from(sh_fmt, data, off))
    # (name, type, flags, addr, offset, size, link, info, addralign, entsize)
    SHT_DYNAMIC = 6
    needed: list[str] = []
    rpath: list[str] = []
    runpath: list[str] = []
    for sec in sections:
        if sec[1] != SHT_DYNAMIC:
            continue
        strtab = sections[sec[6]]
        str_off = strtab[4]

        def string(at: int, str_off: int = str_off) -> str:
            start = str_off + at
            end = data.index(b"\0", start)
            return data[start:end].decode("utf-8", "replace")

        size = struct.calcsize(dyn_fmt)
        for off in range(sec[4], sec[4] + sec[5], size):
            tag, val = struct.unpack_from(dyn_fmt, data, off)
            if tag == 0:
                break
            if tag == 1:  # DT_NEEDED
                needed.append(string(val))
            elif tag == 15:  # DT_RPATH
                rpath.extend(string(val).split(":"))
            elif tag == 29:  # DT_RUNPATH
                runpath.extend(string(val).split(":"))
    return ElfInfo(needed, [p for p in (runpath or rpath) if p], elf_class, machine)


# ---------------------------------------------------------- library lookup

def _ld_so_conf_dirs(conf: Path = Path("/etc/ld.so.conf"), seen: set[Path] | None = None) -> list[str]:
    """Directories the loader cache is built from (ld.so.conf and its includes)."""
    seen = seen if seen is not None else set()
    if conf in seen:
        return []
    seen.add(conf)
    try:
        lines = conf.read_text().splitlines()
    except OSError:
        return []
    dirs: list[str] = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("include"):
            for pattern in line.split()[1:]:
                if not os.path.isabs(pattern):
                    pattern = str(conf.parent / pattern)
                for inc in sorted(glob.glob(pattern)):
                    dirs += _ld_so_conf_dirs(Path(inc), seen)
        else:
            dirs.append(line)
    return dirs


def system_library_dirs() -> list[str]:
    """LD_LIBRARY_PATH, then the loader cache's directories, then the defaults."""
    dirs = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d]
    dirs += _ld_so_conf_dirs()
    multiarch = glob.glob("/usr/lib/*-linux-gnu*") + glob.glob("/lib/*-linux-gnu*")
    dirs += [*multiarch, "/lib64", "/usr/lib64", "/lib", "/usr/lib"]
    out: list[str] = []
    for d in dirs:
        if d not in out and os.path.isdir(d):
            out.append(d)
    return out


def _expand(entry: str, origin: Path) -> str:
    return entry.replace("$ORIGIN", str(origin)).replace("${ORIGIN}", str(origin))


def missing_libraries(path: Path, system_dirs: Iterable[str] | None = None, limit: int = 400) -> list[str]:
    """Every DT_NEEDED soname under `path` that resolves nowhere (no ldd needed).

    Resolution follows the loader's order closely enough for this purpose: the
    requiring object's RUNPATH (with $ORIGIN), then LD_LIBRARY_PATH, ld.so.conf
    and the default directories; a candidate must match the plugin's ELF class
    and machine, so a 32-bit copy of a library does not count.
    """
    sys_dirs = list(system_library_dirs() if system_dirs is None else system_dirs)
    root = read_elf(path)
    if root is None:
        return []
    missing: list[str] = []
    resolved: dict[str, Path | None] = {}
    queue: list[tuple[Path, ElfInfo]] = [(path, root)]
    walked = {str(path.resolve())}
    while queue and len(walked) < limit:
        obj, info = queue.pop(0)
        dirs = [_expand(d, obj.resolve().parent) for d in info.runpath] + sys_dirs
        for name in info.needed:
            if name in resolved:
                continue
            hit = None
            for d in dirs:
                cand = Path(d) / name
                if cand.is_file():
                    cinfo = read_elf(cand)
                    if cinfo and cinfo.elf_class == root.elf_class and cinfo.machine == root.machine:
                        hit = cand
                        key = str(cand.resolve())
                        if key not in walked:
                            walked.add(key)
                            queue.append((cand, cinfo))
                        break
            resolved[name] = hit
            if hit is None:
                missing.append(name)
    return missing


# Loads one library in a child process and prints the loader's error, if any.
_DLOPEN_CHILD = (
    "import ctypes, os, sys\n"
    "try:\n"
    "    ctypes.CDLL(sys.argv[1], mode=os.RTLD_LAZY | getattr(os, 'RTLD_LOCAL', 0))\n"
    "except OSError as exc:\n"
    "    sys.stderr.write(str(exc)); sys.exit(3)\n"
)


def dlopen_error(path: Path, timeout_s: float = 20.0) -> str | None:
    """What the real loader says about `path`; None when it loads.

    The load runs in a child process: a damaged library can crash the loader
    itself (a libc cut to 2,000 bytes gave SIGBUS), which in this process would
    end the preflight before it could say anything. A child's Python start is
    ~30 ms, once, before the window opens.
    """
    try:
        child = subprocess.run([sys.executable, "-I", "-S", "-c", _DLOPEN_CHILD, str(path)],
                               capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return f"{path}: loading it hung for {timeout_s:.0f} s (a damaged file, or a stuck disk)"
    except OSError:  # no way to start a child: load it here, as Qt would anyway
        try:
            ctypes.CDLL(str(path), mode=os.RTLD_LAZY | getattr(os, "RTLD_LOCAL", 0))
        except OSError as exc:
            return str(exc)
        return None
    if child.returncode == 0:
        return None
    if child.returncode < 0:
        import signal

        name = signal.Signals(-child.returncode).name
        return (f"{path}: loading it crashed the loader ({name}): the file, or a library "
                "it needs, is damaged")
    return child.stderr.strip() or f"{path}: the loader failed (exit status {child.returncode})"


# --------------------------------------------------------- which plugin

def platform_candidates(env: Mapping[str, str]) -> list[str]:
    """The platform plugins Qt 6 will try, in its order (qguiapplication.cpp):
    QT_QPA_PLATFORM when set; else Wayland first in a Wayland session, then xcb."""
    explicit = env.get("QT_QPA_PLATFORM", "").strip()
    if explicit:
        names = [n.split(":", 1)[0].strip() for n in explicit.split(";")]
        return [n for n in names if n]
    order: list[str] = []
    if env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE") == "wayland":
        order.append("wayland")
    order.append("xcb")
    return order


def pyside_plugin_dirs(env: Mapping[str, str]) -> list[Path]:
    """Where Qt will look for platform plugins, without importing PySide6's Qt modules."""
    dirs: list[Path] = []
    if env.get("QT_QPA_PLATFORM_PLUGIN_PATH"):
        dirs.append(Path(env["QT_QPA_PLATFORM_PLUGIN_PATH"]))
    roots: list[Path] = []
    meipass = getattr(sys, "_MEIPASS", None)  # a PyInstaller bundle
    if meipass:
        roots.append(Path(meipass) / "PySide6")
    spec = importlib.util.find_spec("PySide6")
    if spec is not None and spec.submodule_search_locations:
        roots += [Path(p) for p in spec.submodule_search_locations]
    for root in roots:
        dirs += [root / "Qt" / "plugins" / "platforms", root / "plugins" / "platforms"]
    return [d for d in dirs if d.is_dir()]


def find_plugin(platform: str, plugin_dirs: Iterable[Path]) -> Path | None:
    names = [f"libq{platform}.so"]
    if platform.startswith("wayland"):
        names.append("libqwayland.so")
    for d in plugin_dirs:
        for n in names:
            if (d / n).is_file():
                return d / n
    return None


def check_plugin(platform: str, plugin: Path | None, system_dirs: Iterable[str] | None = None) -> PluginCheck:
    if plugin is None:
        return PluginCheck(platform, None)
    error = dlopen_error(plugin)
    missing = missing_libraries(plugin, system_dirs) if error else []
    return PluginCheck(platform, plugin, missing, error)


# ------------------------------------------------------- the message

def distro_family(os_release: Path = Path("/etc/os-release")) -> str | None:
    """'apt', 'dnf' or 'pacman' from ID / ID_LIKE; None when unknown."""
    try:
        text = os_release.read_text()
    except OSError:
        return None
    ids: list[str] = []
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key in ("ID", "ID_LIKE"):
            ids += shlex.split(value)[0].split() if value.strip() else []
    for wanted in ids:
        for family, members in _FAMILY_IDS.items():
            if wanted.lower() in members:
                return family
    return None


def install_command(missing: Iterable[str], family: str | None) -> str | None:
    if family is None:
        return None
    packages: list[str] = []
    for soname in missing:
        pkg = _PACKAGES.get(soname, {}).get(family)
        if pkg and pkg not in packages:
            packages.append(pkg)
    if not packages:
        return None
    return f"{_INSTALL[family]} {' '.join(packages)}"


def all_packages(family: str, platform: str = "xcb") -> list[str]:
    """The packages of one family that the xcb plugin needs (for README / CI)."""
    out: list[str] = []
    for soname, pkgs in _PACKAGES.items():
        if platform == "xcb" and soname.startswith(("libwayland", "libEGL", "libOpenGL")):
            continue
        if pkgs[family] not in out:
            out.append(pkgs[family])
    return out


# What the loader says of a file that exists but is not a whole library (a
# truncated download, a disk error, a file of another architecture).
_DAMAGE = ("file too short", "cannot read file data", "invalid ELF header", "wrong ELF class", "ELF load command",
           "not a dynamic executable", "unexpected reloc type", "crashed the loader")
_REINSTALL = {"apt": "sudo apt install --reinstall", "dnf": "sudo dnf reinstall",
              "pacman": "sudo pacman -S"}
_OWNER_QUERY = {"apt": ["dpkg", "-S"], "dnf": ["rpm", "-qf", "--qf", "%{NAME}\\n"],
                "pacman": ["pacman", "-Qqo"]}


def damaged_library(loader_error: str | None) -> Path | None:
    """The library the loader found damaged ("/usr/lib/.../libX.so.6: file too
    short"), or None when the error is of another kind."""
    if not loader_error or not any(mark in loader_error for mark in _DAMAGE):
        return None
    head = loader_error.split(": ", 1)[0].strip()
    return Path(head) if head.startswith("/") else None


def owner_package(path: Path, family: str | None) -> str | None:
    """The system package that installed `path`, asked of the package manager."""
    query = _OWNER_QUERY.get(family or "")
    if query is None or shutil.which(query[0]) is None:
        return None
    # The package database may know the file under /lib where /usr/lib is the
    # same folder (merged /usr), or under the name a symlink points to.
    text = str(path)
    names = dict.fromkeys([text, str(path.resolve()), text.replace("/usr/lib/", "/lib/", 1)])
    for name in names:
        try:
            out = subprocess.run([*query, name], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        if out.returncode == 0 and out.stdout.strip():
            first = out.stdout.strip().splitlines()[0]
            # dpkg -S prints "libxcb-cursor0:amd64: /usr/lib/...": the package comes first.
            return first.split(":", 1)[0].strip() if family == "apt" else first.strip()
    return None


def reinstall_command(path: Path | None, family: str | None) -> str | None:
    """The command that puts a damaged library back: pip for PySide6's own Qt,
    the system package manager for the rest."""
    if path is None:
        return None
    if "site-packages" in path.parts or any(part.startswith("PySide6") for part in path.parts):
        return f"{shlex.quote(sys.executable)} -m pip install --force-reinstall --no-deps PySide6-Essentials PySide6"
    package = owner_package(path, family)
    if package and family in _REINSTALL:
        return f"{_REINSTALL[family]} {package}"
    return f"reinstall the package that owns {path} (your package manager can name it)"


def describe(checks: list[PluginCheck], family: str | None) -> str:
    """One message: what is missing and the one command that fixes it."""
    lines = ["Glimpse cannot open its window: Qt's display plugin cannot load on this computer."]
    target = next((c for c in checks if c.platform == "xcb" and c.plugin), None) or next(
        (c for c in checks if c.plugin), None
    )
    for c in checks:
        if c.plugin is None:
            lines.append(f"  The '{c.platform}' platform plugin is not in this PySide6 installation.")
        elif c.missing:
            lines.append(f"  The '{c.platform}' plugin needs these system libraries, not found: "
                         + ", ".join(c.missing))
        else:
            lines.append(f"  The '{c.platform}' plugin fails to load: {c.loader_error}")
            fix = reinstall_command(damaged_library(c.loader_error), family)
            if fix:
                lines.append(f"  That file is damaged; reinstall what owns it:\n    {fix}")
    missing = target.missing if target else []
    cmd = install_command(missing, family)
    if cmd:
        lines.append(f"Install them with:\n    {cmd}")
    elif missing:
        hint = "; ".join(f"{fam}: {install_command(missing, fam) or '?'}" for fam in _INSTALL)
        lines.append("Install the packages that provide them with your package manager "
                     f"(for example {hint}).")
    lines.append("Then start Glimpse again.")
    return "\n".join(lines)


def preflight(env: Mapping[str, str] | None = None) -> str | None:
    """None when Qt can start a window here; else the message to show.

    Only Linux is checked (macOS and Windows wheels carry what they need).
    Any plugin Qt would try that loads is enough: Qt falls back along the list.
    """
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux"):
        return None
    candidates = platform_candidates(env)
    if any(c in ("offscreen", "minimal", "vnc", "eglfs", "linuxfb", "vkkhrdisplay") for c in candidates):
        return None  # headless or special platforms: not what this check is for
    dirs = pyside_plugin_dirs(env)
    if not dirs:
        return None  # cannot find the plugins: let Qt report it
    checks = [check_plugin(c, find_plugin(c, dirs)) for c in candidates]
    if any(c.ok for c in checks):
        return None
    if not any(c.plugin for c in checks):
        return None  # an unknown platform name: Qt's own message is the right one
    return describe(checks, distro_family())


def report(message: str, notify: bool | None = None) -> None:
    """Print the message; from a desktop launcher (no terminal) also show it as a
    desktop notification, because nobody reads stderr there."""
    print(message, file=sys.stderr)
    if notify is None:
        notify = not (sys.stderr and sys.stderr.isatty())
    tool = shutil.which("notify-send")
    if notify and tool:
        title, _, body = message.partition("\n")
        try:
            subprocess.run([tool, "--app-name=Glimpse", "--urgency=critical", title, body],
                           timeout=5, check=False, capture_output=True)
        except (OSError, subprocess.SubprocessError):
            pass
