namespace Aletheia.Wal;

/// <summary>What <c>WriteAheadLog.Open</c> and <c>WalReader.Open</c> do with a damaged log.</summary>
public enum WalRecoveryMode
{
    /// <summary>
    /// An interrupted write at the very end of the log (damage with nothing valid after it) is cut off;
    /// any other damage throws <see cref="WalCorruptionException"/>. The default.
    /// </summary>
    TruncateTornTail = 0,

    /// <summary>Stop at the first damaged record anywhere; everything after it is dropped.</summary>
    PointInTime = 1,

    /// <summary>Any damaged byte throws <see cref="WalCorruptionException"/>, a torn tail included.</summary>
    Strict = 2,
}
