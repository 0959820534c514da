using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Aletheia.Wal.Perf.Load;

/// <summary>
/// Not a log: the floor of blocking group commit on this machine. Each caller joins the round being gathered and
/// sleeps on one futex word until a flusher thread has written that round, with one write-through write of the
/// round's size into a zero-filled file, and woken every sleeper with one <c>FUTEX_WAKE</c>. There is no copy, framing,
/// ring or LSN. What is left is the write, plus one park and one wake per record. Any design whose AppendDurable blocks
/// its thread until the write returns pays at least that. With <c>noDisk</c> the round is not written at all, which
/// gives the ceiling of park and wake alone. Linux x64 only; the flusher yields instead of sleeping when idle.
/// </summary>
public sealed unsafe partial class WakeFloorLog : IDurableLog
{
    private const long FileSize = 64L * 1024 * 1024;
    private const int MaxWriteBytes = 1024 * 1024;
    private const int FutexWaitPrivate = 128;
    private const int FutexWakePrivate = 129;

    private readonly SafeFileHandle? _handle;
    private readonly byte[] _buffer = new byte[MaxWriteBytes];
    private readonly int[] _durable = GC.AllocateArray<int>(16, pinned: true); // [0]: the last round written (a futex word)
    private readonly Thread _flusher;
    private readonly bool _noDisk;
    private long _gathering = 1L << 32; // high 32 bits: the round being gathered; low 32 bits: records in it
    private int _payloadBytes = 64;
    private volatile bool _stop;

    public WakeFloorLog(string directory, bool noDisk = false)
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            throw new PlatformNotSupportedException("The wake-floor peer calls futex(2) directly: Linux x64 only.");
        }

        _noDisk = noDisk;
        if (!noDisk)
        {
            _handle = ZeroFilledFile.Create(Path.Combine(directory, "floor.log"), FileSize);
        }

        _flusher = new Thread(Flush) { IsBackground = true, Name = "wake-floor-flush" };
        _flusher.Start();
    }

    public string Name => _noDisk ? "wake-floor-nodisk" : "wake-floor";

    public void AppendDurable(ReadOnlySpan<byte> payload)
    {
        _payloadBytes = payload.Length;

        // Joins the round being gathered: one atomic add both counts the record and says which round it is in.
        int round = (int)(Interlocked.Increment(ref _gathering) >> 32);
        fixed (int* durable = _durable)
        {
            int written;
            while ((written = Volatile.Read(ref *durable)) < round && !_stop)
            {
                _ = Syscall(202, durable, FutexWaitPrivate, written, null, null, 0);
            }
        }
    }

    public void Dispose()
    {
        _stop = true;
        _flusher.Join();
        _handle?.Dispose();
    }

    private void Flush()
    {
        long offset = 0;
        fixed (int* durable = _durable)
        {
            while (!_stop)
            {
                long gathered = Volatile.Read(ref _gathering);
                int records = (int)gathered;
                if (records == 0)
                {
                    Thread.Yield();
                    continue;
                }

                // Closes the round: the next caller joins the next one.
                int round = (int)(gathered >> 32);
                if (Interlocked.CompareExchange(ref _gathering, (long)(round + 1) << 32, gathered) != gathered)
                {
                    continue;
                }

                if (_handle is not null)
                {
                    int bytes = Math.Min(MaxWriteBytes, records * (_payloadBytes + 16));
                    offset = offset + bytes > FileSize ? 0 : offset;
                    RandomAccess.Write(_handle, _buffer.AsSpan(0, bytes), offset);
                    offset += bytes;
                }

                // Release: a woken caller that reads the new round number returns.
                Volatile.Write(ref *durable, round);
                _ = Syscall(202, durable, FutexWakePrivate, int.MaxValue, null, null, 0);
            }

            Volatile.Write(ref *durable, int.MaxValue);
            _ = Syscall(202, durable, FutexWakePrivate, int.MaxValue, null, null, 0);
        }
    }

    [LibraryImport("libc", EntryPoint = "syscall")]
    private static partial nint Syscall(nint number, int* word, int operation, int value, void* timeout, int* word2, int value3);
}
