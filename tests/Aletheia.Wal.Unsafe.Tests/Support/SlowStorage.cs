using Aletheia.Wal.Storage;

namespace Aletheia.Wal.Tests.Support;

/// <summary>
/// The real file system, where a large segment write becomes visible to readers in two halves, with a pause between (the
/// copy into the page cache is not atomic for a concurrent reader), and the reader thread can be held before it opens a
/// segment file a second time (descheduled before its evidence search, while the writer goes on).
/// </summary>
internal sealed class SlowStorage : WalStorage
{
    private readonly WalStorage _inner = Files;
    private readonly HashSet<string> _readerOpened = [];
    private int _held;

    public TimeSpan HalfWriteDelay { get; init; }

    public volatile bool Slow;

    public volatile int ReaderThread = -1;

    public ManualResetEventSlim InFlight { get; } = new();

    public override WalFile OpenWrite(string path, bool writeThrough) => new SlowFile(this, _inner.OpenWrite(path, writeThrough));

    public override WalFile CreateNew(string path, bool writeThrough) => _inner.CreateNew(path, writeThrough);

    public override WalFile OpenRead(string path)
    {
        if (Environment.CurrentManagedThreadId == ReaderThread && path.EndsWith(".wal", StringComparison.Ordinal))
        {
            lock (_readerOpened)
            {
                if (!_readerOpened.Add(path) && _held++ == 0)
                {
                    Thread.Sleep(1500); // the reader is descheduled before its (first) evidence search
                }
            }
        }

        return _inner.OpenRead(path);
    }

    public override void Delete(string path) => _inner.Delete(path);

    public override void Move(string from, string to) => _inner.Move(from, to);

    public override void SyncDirectory(string directory) => _inner.SyncDirectory(directory);

    public override string[] ListFiles(string directory, string searchPattern) => _inner.ListFiles(directory, searchPattern);

    private sealed class SlowFile(SlowStorage owner, WalFile inner) : WalFile
    {
        public override string Path => inner.Path;

        public override long Length => inner.Length;

        public override void Write(ReadOnlySpan<byte> data, long offset)
        {
            if (owner.Slow && data.Length >= 4096 && inner.Path.EndsWith(".wal", StringComparison.Ordinal))
            {
                // The copy into the page cache is not atomic for a concurrent reader: the first half is visible first.
                int half = data.Length / 2;
                inner.Write(data[..half], offset);
                owner.InFlight.Set();
                Thread.Sleep(owner.HalfWriteDelay);
                inner.Write(data[half..], offset + half);
                return;
            }

            inner.Write(data, offset);
        }

        public override int Read(Span<byte> destination, long offset) => inner.Read(destination, offset);

        public override void Sync() => inner.Sync();

        public override void Dispose() => inner.Dispose();
    }
}
