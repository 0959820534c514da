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
    private const int FillChunkSize = 1024 * 1024;

    private readonly SafeFileHandle _handle;
    private readonly Lock _lock = new();
    private long _offset;

    public RawWriteThroughLog(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string path = Path.Combine(directory, "raw.log");
        _handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.WriteThrough);
        try
        {
            // Real zeros, not a sparse extension: later writes then overwrite allocated blocks
            // and never have to change the file's size or extent metadata.
            byte[] zeros = new byte[FillChunkSize];
            for (long position = 0; position < FileSize; position += FillChunkSize)
            {
                RandomAccess.Write(_handle, zeros, position);
            }

            RandomAccess.FlushToDisk(_handle);
        }
        catch
        {
            _handle.Dispose();
            throw;
        }
    }

    public string Name => "raw-writethrough";

    public void AppendDurable(ReadOnlySpan<byte> payload)
    {
        if (payload.Length > FillChunkSize)
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
