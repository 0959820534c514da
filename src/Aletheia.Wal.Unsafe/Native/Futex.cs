using System.Runtime.InteropServices;

namespace Aletheia.Wal.Native;

/// <summary>
/// futex(2) on Linux: parks a thread on a 32-bit word in pinned memory and wakes it, one system call on each side.
/// Monitor.Wait/Pulse costs more there: the waker signals a pthread condition variable under a pthread mutex, and the
/// woken thread must take that mutex and then the monitor again, both possibly still held by the waker, so a wake can
/// put the woken thread back to sleep once more before it runs.
/// </summary>
internal static unsafe partial class Futex
{
    /// <summary>True on Linux x64 and Arm64; elsewhere callers use a monitor.</summary>
    public static readonly bool IsSupported =
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    private const int WaitPrivate = 128; // FUTEX_WAIT | FUTEX_PRIVATE_FLAG: the word is not shared with other processes
    private const int WakePrivate = 129; // FUTEX_WAKE | FUTEX_PRIVATE_FLAG

    // The system call number of futex: 202 on x86-64, 98 on Arm64 (the generic table).
    private static readonly nint s_futex = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 202 : 98;

    /// <summary>
    /// Sleeps while <c>*word == expected</c> (the kernel checks it atomically with going to sleep, so a wake between the
    /// caller's check and this call is not lost), for at most <paramref name="millisecondsTimeout"/> (-1: no limit).
    /// Returns on a wake, a timeout, a signal, or at once if the word differs: callers loop on their own condition.
    /// </summary>
    public static void Wait(int* word, int expected, int millisecondsTimeout)
    {
        var timeout = new Timespec { Seconds = millisecondsTimeout / 1000, Nanoseconds = (millisecondsTimeout % 1000) * 1_000_000 };
        _ = Syscall(s_futex, word, WaitPrivate, expected, millisecondsTimeout < 0 ? null : &timeout, null, 0);
    }

    /// <summary>Wakes one thread sleeping in <see cref="Wait"/> on <paramref name="word"/>, if any.</summary>
    public static void WakeOne(int* word) => _ = Syscall(s_futex, word, WakePrivate, 1, null, null, 0);

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public nint Seconds;
        public nint Nanoseconds;
    }

    // syscall(2) is variadic; on x86-64 and Arm64 Linux its integer arguments travel in the same registers as a
    // fixed-argument call's, so a fixed signature calls it correctly.
    [LibraryImport("libc", EntryPoint = "syscall")]
    private static partial nint Syscall(nint number, int* word, int operation, int value, Timespec* timeout, int* word2, int value3);
}
