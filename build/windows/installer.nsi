; millrun's Windows installer: per user (no administrator), into
; %LOCALAPPDATA%\Programs\millrun, with a Start-menu entry and an
; uninstaller in "Apps & features". It checks for the WebView2 runtime the
; window needs and says how to get it. Uninstalling keeps the data folder
; (%APPDATA%\millrun: scripts, runs, tokens) unless the user asks.
; Built by build/dist.sh: makensis -DVERSION= -DBINARY= -DICON= -DOUTFILE=
Unicode true
!include "MUI2.nsh"
!include "LogicLib.nsh"

!define APP "millrun"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP}"
!define WEBVIEW2_GUID "{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"

Name "${APP} ${VERSION}"
OutFile "${OUTFILE}"
RequestExecutionLevel user
InstallDir "$LOCALAPPDATA\Programs\${APP}"
InstallDirRegKey HKCU "Software\${APP}" "InstallDir"
SetCompressor /SOLID lzma
!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_FINISHPAGE_RUN "$INSTDIR\millrun.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Open millrun"

!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

; The window is Microsoft Edge WebView2; Windows 11 has it, older systems
; may not. Without it millrun still serves webhooks headless.
Function CheckWebView2
  ReadRegStr $0 HKLM "SOFTWARE\WOW6432Node\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_GUID}" "pv"
  ${If} $0 == ""
    ReadRegStr $0 HKCU "Software\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_GUID}" "pv"
  ${EndIf}
  ${If} $0 == ""
  ${OrIf} $0 == "0.0.0.0"
    ; /SD: a silent install (setup.exe /S) is not stopped by the box.
    MessageBox MB_ICONINFORMATION|MB_OK "millrun's window needs the Microsoft Edge WebView2 Runtime, which this computer does not have yet.$\r$\n$\r$\nGet the Evergreen Bootstrapper from https://developer.microsoft.com/microsoft-edge/webview2/ (or Windows Update), then open millrun. Until then, 'millrun serve' runs it in your browser." /SD IDOK
  ${EndIf}
FunctionEnd

Var WasRunning

; StopMillrun stops a running millrun before its program is replaced or
; removed: first as its own Quit does (running jobs get their grace
; period), then, for one that did not stop (an older millrun without
; `quit`, one on another data folder), by force, since Windows will not
; overwrite a running program.
!macro StopMillrun
  StrCpy $WasRunning 0
  ${If} ${FileExists} "$INSTDIR\millrun.exe"
    nsExec::ExecToStack '"$INSTDIR\millrun.exe" quit --wait 60s'
    Pop $0
    Pop $1
    StrCpy $2 $1 7
    ${If} $2 == "Stopped"
      StrCpy $WasRunning 1
    ${EndIf}
  ${EndIf}
  nsExec::Exec 'taskkill /IM millrun.exe /F'
  Pop $0
  ${If} $0 == 0
    StrCpy $WasRunning 1
  ${EndIf}
!macroend

Section "millrun"
  SetOutPath "$INSTDIR"
  !insertmacro StopMillrun
  File "/oname=millrun.exe" "${BINARY}"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  CreateShortCut "$SMPROGRAMS\${APP}.lnk" "$INSTDIR\millrun.exe"
  WriteRegStr HKCU "Software\${APP}" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${APP}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "${APP}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\millrun.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  Call CheckWebView2
  ; An upgrade leaves millrun running as it found it: its webhooks answer
  ; again, from the new program.
  ${If} $WasRunning == 1
    Exec '"$INSTDIR\millrun.exe" desktop --hidden'
  ${EndIf}
SectionEnd

Section "Uninstall"
  ; Stop a running millrun first, so its files can go.
  !insertmacro StopMillrun
  Delete "$INSTDIR\millrun.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${APP}.lnk"
  ; Start at login pointed at the program that is now gone.
  DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Run" "${APP}"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  DeleteRegKey HKCU "Software\${APP}"
  MessageBox MB_YESNO|MB_DEFBUTTON2|MB_ICONQUESTION "Also delete your millrun data (scripts, runs, tokens and secrets in $APPDATA\${APP})? Choose No to keep it for a later install." /SD IDNO IDNO keep
    RMDir /r "$APPDATA\${APP}"
  keep:
SectionEnd
