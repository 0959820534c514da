using Xunit;

namespace Aletheia.Wal.Tests.Support;

/// <summary>
/// Holds the first write of each thread: a lone record's small batch on the flush thread, then, once released, the
/// 100 records of 1,000 B appended meanwhile, one batch of over 64 KiB, on the writer thread. <see cref="WriterOutcome"/>
/// decides what the writer's held write does once released: return, or throw it.
/// </summary>
internal sealed class HeldWriterWrite : IDisposable
{
    private readonly ManualResetEventSlim _flushWriting = new(false);
    private readonly ManualResetEventSlim _releaseFlush = new(false);
    private readonly ManualResetEventSlim _writerWriting = new(false);
    private readonly ManualResetEventSlim _releaseWriter = new(false);
    private int _flushHeld;
    private int _writerHeld;

    public HeldWriterWrite(FaultyStorage storage) => storage.BeforeWrite = () =>
    {
        if (Thread.CurrentThread.Name == "wal-flush" && Interlocked.Exchange(ref _flushHeld, 1) == 0)
        {
            _flushWriting.Set();
            Assert.True(_releaseFlush.Wait(TimeSpan.FromSeconds(30)), "The test released the flush thread's write.");
        }
        else if (Thread.CurrentThread.Name == "wal-write" && Interlocked.Exchange(ref _writerHeld, 1) == 0)
        {
            _writerWriting.Set();
            Assert.True(_releaseWriter.Wait(TimeSpan.FromSeconds(30)), "The test released the writer thread's write.");
            if (WriterOutcome is { } failure)
            {
                throw failure;
            }
        }
    };

    public Exception? WriterOutcome { get; set; }

    /// <summary>Appends record 1 (written by the flush thread) and records 2 to 101 (the writer thread's write, held); returns when it holds.</summary>
    public void AppendAndHold(WriteAheadLog log)
    {
        log.Append(Payloads.MakeTagged(0, 0, 20));
        Assert.True(_flushWriting.Wait(TimeSpan.FromSeconds(10)), "The flush thread writes the lone record.");
        for (int i = 1; i <= 100; i++)
        {
            log.Append(Payloads.MakeTagged(0, i, 1000));
        }

        _releaseFlush.Set();
        Assert.True(_writerWriting.Wait(TimeSpan.FromSeconds(10)), "The writer thread writes the 100 records.");
        Assert.Equal(new Lsn(1), log.DurableLsn);
    }

    public void ReleaseWriter() => _releaseWriter.Set();

    /// <summary>
    /// Runs <paramref name="call"/> on a thread of its own while the writer's write is held: it must wait for that
    /// write; then releases it, and returns what the call threw (null: it returned), once it did.
    /// </summary>
    public Exception? CallThenRelease(string call, Action body)
    {
        Exception? thrown = null;
        var thread = new Thread(() => thrown = Record.Exception(body));
        thread.Start();
        Assert.False(thread.Join(200), $"{call} waits for the write in flight.");
        ReleaseWriter();
        Assert.True(thread.Join(TimeSpan.FromSeconds(10)), $"{call} returned once the write did.");
        return thrown;
    }

    public void Dispose()
    {
        _releaseFlush.Set();
        _releaseWriter.Set();
    }
}
