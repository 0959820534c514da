using Xunit;

namespace Aletheia.Wal.Tests.Support;

/// <summary>Holds the flush thread inside its next segment write (through <see cref="FaultyStorage.BeforeWrite"/>) until <see cref="Release"/>.</summary>
internal sealed class HeldWrites(FaultyStorage storage) : IDisposable
{
    private readonly ManualResetEventSlim _inWrite = new();
    private readonly ManualResetEventSlim _gate = new();

    public void Hold() => storage.BeforeWrite = () =>
    {
        _inWrite.Set();
        _gate.Wait(TimeSpan.FromSeconds(60));
    };

    public void WaitUntilInWrite() =>
        Assert.True(_inWrite.Wait(TimeSpan.FromSeconds(30)), "The flush thread picks the record up and enters its write, where the test holds it.");

    public void Release()
    {
        storage.BeforeWrite = null;
        _gate.Set();
    }

    public void Dispose()
    {
        Release();
        _inWrite.Dispose();
        _gate.Dispose();
    }
}
