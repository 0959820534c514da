using System.Runtime.InteropServices;

namespace Aletheia.Wal.Perf.Compare;

/// <summary>This process's limit on open files (RLIMIT_NOFILE), which some peers run into before anything else.</summary>
internal static partial class OpenFileLimit
{
    private const int RlimitNoFile = 7; // RLIMIT_NOFILE on Linux

    /// <summary>The soft limit in force, or null where this is not Linux or the call fails.</summary>
    public static ulong? Current() =>
        OperatingSystem.IsLinux() && GetLimit(RlimitNoFile, out Limit limit) == 0 ? limit.Soft : null;

    [LibraryImport("libc", EntryPoint = "getrlimit")]
    private static partial int GetLimit(int resource, out Limit limit);

    /// <summary>struct rlimit: rlim_cur, rlim_max (64-bit on Linux x64 and arm64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Limit
    {
        public ulong Soft;
        public ulong Hard;
    }
}
