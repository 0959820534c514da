using Aletheia.Wal.Storage;

namespace Aletheia.Wal.Tests.Support;

/// <summary>
/// The real file system with faults on demand, through the log's storage seam: writes to segment files fail after a
/// number of successful ones (with the exception the test chooses), and segment preparation can fail.
/// </summary>
internal sealed class FaultyStorage : WalStorage
{
    private readonly WalStorage _inner = Files;
    private int _writesLeft = int.MaxValue;

    /// <summary>The exception a failing write throws.</summary>
    public Exception WriteFault { get; set; } = new IOException("Injected write failure (EIO).");

    /// <summary>Segment writes that happened, successful or not.</summary>
    public int SegmentWrites;

    /// <summary>Every successful segment write: file, offset and length, in order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<(string Path, long Offset, int Length)> Writes { get; } = new();

    /// <summary>Every successful segment write with the name of the thread that made it, in order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<(string? Thread, long Offset, int Length)> WriterThreads { get; } = new();

    /// <summary>Every segment write's overlap and the last LSN of the batches whose writes returned.</summary>
    public WriteTracker Tracker { get; } = new();

    /// <summary>Runs before every segment write (a test holds writes back with it).</summary>
    public Action? BeforeWrite { get; set; }

    /// <summary>Runs after every successful segment write, before it returns (the bytes are in the file, not yet acknowledged).</summary>
    public Action? AfterWrite { get; set; }

    /// <summary>When set, zero-filling a segment under its final name (the fill of one extended sparse) fails with this exception.</summary>
    public Exception? FillFault { get; set; }

    /// <summary>Runs before a segment is zero-filled under its final name (a test holds the fill with it).</summary>
    public Action? BeforeFill { get; set; }

    /// <summary>Fills that failed with <see cref="FillFault"/>.</summary>
    public int FillFaults;

    /// <summary>When set, creating a new file fails with this exception.</summary>
    public Exception? CreateFault { get; set; }

    /// <summary>The next <paramref name="successes"/> segment writes succeed; every one after fails.</summary>
    public void FailSegmentWritesAfter(int successes) => Volatile.Write(ref _writesLeft, successes);

    public override WalFile OpenWrite(string path, bool writeThrough) => Wrap(_inner.OpenWrite(path, writeThrough));

    public override WalFile CreateNew(string path, bool writeThrough) =>
        CreateFault is { } fault ? throw fault : Wrap(_inner.CreateNew(path, writeThrough));

    /// <summary>When set, opening a file for reading fails with FileNotFoundException when it returns true (removed after a listing).</summary>
    public Func<string, bool>? Vanished { get; set; }

    /// <summary>Files opened for reading, in order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Reads { get; } = new();

    public override WalFile OpenRead(string path)
    {
        if (Vanished?.Invoke(path) == true)
        {
            throw new FileNotFoundException($"Could not find file '{path}'.", path);
        }

        Reads.Enqueue(path);
        return _inner.OpenRead(path);
    }

    public override void Delete(string path) => _inner.Delete(path);

    public override void Move(string from, string to) => _inner.Move(from, to);

    public override void SyncDirectory(string directory) => _inner.SyncDirectory(directory);

    public override string[] ListFiles(string directory, string searchPattern) => _inner.ListFiles(directory, searchPattern);

    /// <summary>How each segment was prepared, in order: the file (temporary or final name) and whether it was extended sparse or zero-filled.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<(string Path, bool Sparse)> Preparations { get; } = new();

    private WalFile Wrap(WalFile file) =>
        file.Path.EndsWith(SegmentNames.Extension, StringComparison.Ordinal) || file.Path.EndsWith(SegmentNames.PreparingExtension, StringComparison.Ordinal)
            ? new FaultyFile(this, file)
            : file;

    private sealed class FaultyFile(FaultyStorage owner, WalFile inner) : WalFile
    {
        public override string Path => inner.Path;

        public override long Length => inner.Length;

        public override void Write(ReadOnlySpan<byte> data, long offset)
        {
            owner.Tracker.Enter(inner.Path);
            try
            {
                owner.BeforeWrite?.Invoke();
                Interlocked.Increment(ref owner.SegmentWrites);
                if (Interlocked.Decrement(ref owner._writesLeft) < 0)
                {
                    throw owner.WriteFault;
                }

                inner.Write(data, offset);
                owner.Writes.Enqueue((inner.Path, offset, data.Length));
                owner.WriterThreads.Enqueue((Thread.CurrentThread.Name, offset, data.Length));
                owner.AfterWrite?.Invoke();
                owner.Tracker.Returned(data, offset);
            }
            finally
            {
                owner.Tracker.Exit(inner.Path);
            }
        }

        public override int Read(Span<byte> destination, long offset) => inner.Read(destination, offset);

        // Preparation, not the log's writes: the real file's own (direct I/O, or a sparse extension), recorded apart.
        public override void FillZeros(long from, long to)
        {
            if (inner.Path.EndsWith(SegmentNames.Extension, StringComparison.Ordinal))
            {
                owner.BeforeFill?.Invoke();
            }

            if (owner.FillFault is { } fault && inner.Path.EndsWith(SegmentNames.Extension, StringComparison.Ordinal))
            {
                Interlocked.Increment(ref owner.FillFaults);
                throw fault;
            }

            inner.FillZeros(from, to);
            owner.Preparations.Enqueue((inner.Path, Sparse: false));
        }

        public override void Extend(long length)
        {
            inner.Extend(length);
            owner.Preparations.Enqueue((inner.Path, Sparse: true));
        }

        public override bool HasHoles => inner.HasHoles;

        public override void Sync() => inner.Sync();

        public override void Dispose() => inner.Dispose();
    }
}
