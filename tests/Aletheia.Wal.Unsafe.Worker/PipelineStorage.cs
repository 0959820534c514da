using Aletheia.Wal.Storage;

namespace Aletheia.Wal.Worker;

/// <summary>
/// The real file system for the pipelined protocol stress: every segment write takes at least a millisecond (so batches
/// grow past the hand-over to the writer thread and queue behind its writes), and each is checked to be the only one in
/// progress (the format allows one at a time); counts the writer thread's writes.
/// </summary>
internal sealed class PipelineStorage : WalStorage
{
    private readonly WalStorage _inner = Files;
    private int _inProgress;
    private int _overlaps;
    private int _writerWrites;

    /// <summary>Segment writes that started while another was in progress.</summary>
    public int Overlaps => Volatile.Read(ref _overlaps);

    /// <summary>Segment writes the writer thread (named "*-write") made.</summary>
    public int WriterWrites => Volatile.Read(ref _writerWrites);

    public override WalFile OpenWrite(string path, bool writeThrough) => Wrap(_inner.OpenWrite(path, writeThrough));

    public override WalFile CreateNew(string path, bool writeThrough) => Wrap(_inner.CreateNew(path, writeThrough));

    public override WalFile OpenRead(string path) => _inner.OpenRead(path);

    public override void Delete(string path) => _inner.Delete(path);

    public override void Move(string from, string to) => _inner.Move(from, to);

    public override void SyncDirectory(string directory) => _inner.SyncDirectory(directory);

    public override string[] ListFiles(string directory, string searchPattern) => _inner.ListFiles(directory, searchPattern);

    private WalFile Wrap(WalFile file) => file.Path.EndsWith(SegmentNames.Extension, StringComparison.Ordinal) ? new SegmentFile(this, file) : file;

    private sealed class SegmentFile(PipelineStorage owner, WalFile inner) : WalFile
    {
        public override string Path => inner.Path;

        public override long Length => inner.Length;

        public override void Write(ReadOnlySpan<byte> data, long offset)
        {
            // Interlocked: a full fence each way, so two writes that overlap in time both see the other's increment.
            if (Interlocked.Increment(ref owner._inProgress) != 1)
            {
                Interlocked.Increment(ref owner._overlaps);
            }

            try
            {
                if (Thread.CurrentThread.Name?.EndsWith("-write", StringComparison.Ordinal) == true)
                {
                    Interlocked.Increment(ref owner._writerWrites);
                }

                Thread.Sleep(1);
                inner.Write(data, offset);
            }
            finally
            {
                Interlocked.Decrement(ref owner._inProgress);
            }
        }

        public override int Read(Span<byte> destination, long offset) => inner.Read(destination, offset);

        public override void FillZeros(long from, long to) => inner.FillZeros(from, to);

        public override void Sync() => inner.Sync();

        public override void Dispose() => inner.Dispose();
    }
}
