using System.Collections.Concurrent;
using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

public sealed class TruncationTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>
    /// Dispose racing a TruncateBefore that is renaming and deleting: Dispose waits for it, so that no rename or deletion
    /// happens after the directory lock is released (another writer may have opened the directory by then).
    /// </summary>
    [Fact]
    public void Dispose_waits_for_a_running_truncation_before_it_releases_the_directory()
    {
        var disk = new SimulatedDisk(1);
        string directory = _temp.Log();
        var options = new WalOptions { Directory = directory, SegmentSizeBytes = 64 * 1024, StripeCount = 1, MaxEntryBytes = 1000, MaxRecycledSegments = 0 };
        WriteAheadLog log = WriteAheadLog.Open(options, disk);
        for (int i = 0; i < 300; i++)
        {
            log.AppendDurable(Payloads.Make(1, i, 1000)); // about 5 segments
        }

        log.TestHookWaitForPreparedSegment();
        using var inDelete = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        Thread? truncator = null;
        var afterDispose = new ConcurrentQueue<string>();
        int disposed = 0;
        disk.BeforeOperation = (operation, path) =>
        {
            if (Thread.CurrentThread != truncator)
            {
                return;
            }

            if (Volatile.Read(ref disposed) == 1)
            {
                afterDispose.Enqueue($"{operation} {Path.GetFileName(path)}");
            }

            if (operation == DiskOperation.Delete && !inDelete.IsSet)
            {
                inDelete.Set();
                Assert.True(release.Wait(TimeSpan.FromSeconds(30)));
            }
        };

        truncator = new Thread(() => log.TruncateBefore(log.DurableLsn));
        truncator.Start();
        Assert.True(inDelete.Wait(TimeSpan.FromSeconds(30)), "The truncation is deleting segments.");
        var disposer = new Thread(() =>
        {
            log.Dispose();
            Volatile.Write(ref disposed, 1);
        });
        disposer.Start();
        Assert.False(disposer.Join(500), "Dispose returned while the truncation was still removing segments.");
        release.Set();
        Assert.True(truncator.Join(TimeSpan.FromSeconds(30)) && disposer.Join(TimeSpan.FromSeconds(30)));
        Assert.True(afterDispose.IsEmpty, $"The truncation touched the directory after Dispose returned: {string.Join(", ", afterDispose)}.");
        Assert.Throws<ObjectDisposedException>(() => log.TruncateBefore(new Lsn(1)));
    }
}
