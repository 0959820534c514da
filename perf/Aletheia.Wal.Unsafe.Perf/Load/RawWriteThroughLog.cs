using Microsoft.Win32.SafeHandles;

namespace Aletheia.Wal.Perf.Load;

/// <summary>
/// The physical limit: one write-through <see cref="RandomAccess.Write(SafeFileHandle, ReadOnlySpan{byte}, long)"/>
/// per record into a preallocated, zero-filled file. No batching; concurrent callers serialize on a lock,
/// so it is meant to be driven by a single thread.
/// </summary>
public sealed class RawWriteThroughLog : IDurableLog
{
    private const long FileSize = 64L * 1024 * 1024;
    private const int MaxPayloadBytes = 1024 * 1024;

    private readonly SafeFileHandle _handle;
    private readonly Lock _lock = new();
    private long _offset;

    public RawWriteThroughLog(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _handle = ZeroFilledFile.Create(Path.Combine(directory, "raw.log"), FileSize);
    }

    public string Name => "raw-writethrough";

    public void AppendDurable(ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxPayloadBytes)
        {
            throw new ArgumentException("Payload too large for the raw peer.", nameof(payload));
        }

        lock (_lock)
        {
            if (_offset + payload.Length > FileSize)
            {
                _offset = 0;
            }

            RandomAccess.Write(_handle, payload, _offset);
            _offset += payload.Length;
        }
    }

    public void Dispose()
    {
        _handle.Dispose();
    }
}
