; NSIS installer for Glimpse on Windows (template).
;
; Build the bundle first (python scripts/build-installer --cpu-only), then:
;   makensis /DVERSION=0.1.0 /DBUNDLE_DIR=..\..\dist\glimpse installer\windows\glimpse.nsi
; VERSION must come from app/glimpse/__init__.py; the build machine passes it.
; Output: dist\Glimpse-<VERSION>-setup.exe. Installs per machine into
; Program Files, adds Start-menu and desktop shortcuts to glimpse-gui.exe, an
; entry in "Apps & features", and an uninstaller that removes exactly those.
; User data (libraries, settings, model cache in %LOCALAPPDATA%\Glimpse) is
; kept on uninstall: re-indexing a large archive takes hours.

Unicode true
!ifndef VERSION
  !define VERSION "@VERSION@"
!endif
!ifndef BUNDLE_DIR
  !define BUNDLE_DIR "..\..\dist\glimpse"
!endif
!define APP_NAME "Glimpse"
!define APP_ID "io.github.glimpse.Glimpse"
!define PUBLISHER "The Glimpse developers"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP_ID}"

!include "MUI2.nsh"

Name "${APP_NAME} ${VERSION}"
OutFile "..\..\dist\Glimpse-${VERSION}-setup.exe"
InstallDir "$PROGRAMFILES64\${APP_NAME}"
InstallDirRegKey HKLM "Software\${APP_ID}" "InstallDir"
RequestExecutionLevel admin
SetCompressor /SOLID lzma
SetCompressorDictSize 64

!define MUI_ICON "..\..\resources\icons\app\glimpse.ico"
!define MUI_UNICON "..\..\resources\icons\app\glimpse.ico"
!define MUI_FINISHPAGE_RUN "$INSTDIR\glimpse-gui.exe"
!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${APP_NAME}"
VIAddVersionKey "FileDescription" "${APP_NAME} installer"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "CompanyName" "${PUBLISHER}"
VIAddVersionKey "LegalCopyright" "MIT License"

Section "Glimpse" SecMain
  SectionIn RO
  ; A previous version's files go first: stale DLLs from another torch break imports.
  RMDir /r "$INSTDIR\_internal"
  SetOutPath "$INSTDIR"
  File /r "${BUNDLE_DIR}\*.*"

  CreateDirectory "$SMPROGRAMS\${APP_NAME}"
  CreateShortcut "$SMPROGRAMS\${APP_NAME}\${APP_NAME}.lnk" "$INSTDIR\glimpse-gui.exe" "" "$INSTDIR\glimpse-gui.exe" 0
  CreateShortcut "$SMPROGRAMS\${APP_NAME}\Uninstall ${APP_NAME}.lnk" "$INSTDIR\uninstall.exe"
  CreateShortcut "$DESKTOP\${APP_NAME}.lnk" "$INSTDIR\glimpse-gui.exe" "" "$INSTDIR\glimpse-gui.exe" 0

  WriteUninstaller "$INSTDIR\uninstall.exe"
  WriteRegStr HKLM "Software\${APP_ID}" "InstallDir" "$INSTDIR"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\glimpse-gui.exe"
  WriteRegStr HKLM "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  Delete "$DESKTOP\${APP_NAME}.lnk"
  RMDir /r "$SMPROGRAMS\${APP_NAME}"
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\glimpse-gui.exe"
  Delete "$INSTDIR\glimpse.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKLM "${UNINST_KEY}"
  DeleteRegKey HKLM "Software\${APP_ID}"
SectionEnd
