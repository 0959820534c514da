using System.Diagnostics;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

public sealed class CrossProcessLockTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void A_writer_in_another_process_holds_the_directory()
    {
        using Process worker = WorkerProcess.Start("hold-lock", _temp.Log());
        Assert.Equal("open", WorkerProcess.ReadLine(worker));
        var e = Assert.Throws<WalException>(() => WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), SegmentSizeBytes = 1 << 20 }));
        Assert.Contains("locked", e.Message, StringComparison.Ordinal);
        worker.StandardInput.WriteLine("release");
        Assert.True(worker.WaitForExit(30_000));
        Assert.Equal(0, worker.ExitCode);

        // Released: this process can open it now.
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), SegmentSizeBytes = 1 << 20 });
    }

    [Fact]
    public void Another_process_cannot_open_a_directory_this_process_holds()
    {
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), SegmentSizeBytes = 1 << 20 });
        using Process worker = WorkerProcess.Start("hold-lock", _temp.Log());
        Assert.True(worker.WaitForExit(30_000), "The worker gives up at once when the lock is held.");
        Assert.Equal(3, worker.ExitCode);
    }

    [Fact]
    public void A_lock_held_for_an_instant_by_an_inspection_does_not_refuse_a_writer()
    {
        using (WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), SegmentSizeBytes = 1 << 20 }))
        {
        }

        // What WalInspection's lock check does (a shared flock while wal.lock is open for reading), held here for 20 ms,
        // well within the writer's grace and far longer than the check holds it.
        var probe = new FileStream(Path.Combine(_temp.Log(), "wal.lock"), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        var releaser = new Thread(() =>
        {
            Thread.Sleep(20);
            probe.Dispose();
        });
        var opening = Stopwatch.StartNew();
        releaser.Start();
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), SegmentSizeBytes = 1 << 20 }))
        {
            Assert.True(opening.ElapsedMilliseconds >= 15, $"Opened after {opening.ElapsedMilliseconds} ms: it did not wait for the probe.");
        }

        Assert.True(releaser.Join(10_000));
    }

    [Fact]
    public void A_lock_held_longer_than_the_grace_refuses_the_writer()
    {
        using (WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), SegmentSizeBytes = 1 << 20 }))
        {
        }

        using var probe = new FileStream(Path.Combine(_temp.Log(), "wal.lock"), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        var opening = Stopwatch.StartNew();
        var e = Assert.Throws<WalException>(() => WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), SegmentSizeBytes = 1 << 20 }));
        Assert.Contains("is locked by another writer", e.Message, StringComparison.Ordinal);
        Assert.True(opening.ElapsedMilliseconds >= 500, $"Refused after {opening.ElapsedMilliseconds} ms, before its grace of 500 ms.");
    }
}
